package io.bulwark.api;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A TCP forwarder in front of the test PostgreSQL, so a test can take the database away from a server
 * ({@link #cut()}: stop listening and drop every open connection) and give it back on the same port
 * ({@link #restore()}).
 */
final class TcpProxy implements AutoCloseable {
  private final String host;
  private final int targetPort;
  private final int port;
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private volatile ServerSocket listener;

  TcpProxy(String host, int targetPort) throws IOException {
    this.host = host;
    this.targetPort = targetPort;
    this.listener = listen(0);
    this.port = listener.getLocalPort();
  }

  int port() {
    return port;
  }

  /** Stops accepting and closes every forwarded connection: the database is now unreachable. */
  void cut() {
    closeQuietly(listener);
    for (Socket s : open) closeQuietly(s);
    open.clear();
  }

  /** Listens on the same port again. */
  void restore() throws IOException {
    listener = listen(port);
  }

  @Override
  public void close() {
    cut();
  }

  private ServerSocket listen(int p) throws IOException {
    ServerSocket s = new ServerSocket();
    s.setReuseAddress(true);
    s.bind(new InetSocketAddress("127.0.0.1", p));
    Thread.ofVirtual().name("proxy-accept").start(() -> accept(s));
    return s;
  }

  private void accept(ServerSocket s) {
    while (!s.isClosed()) {
      Socket client;
      try {
        client = s.accept();
      } catch (IOException e) {
        return;
      }
      try {
        Socket upstream = new Socket(host, targetPort);
        open.add(client);
        open.add(upstream);
        pump(client, upstream);
        pump(upstream, client);
      } catch (IOException e) {
        closeQuietly(client);
      }
    }
  }

  private void pump(Socket from, Socket to) {
    Thread.ofVirtual().name("proxy-pump").start(() -> {
      try {
        InputStream in = from.getInputStream();
        OutputStream out = to.getOutputStream();
        byte[] buf = new byte[16 * 1024];
        for (int n; (n = in.read(buf)) >= 0; ) out.write(buf, 0, n);
      } catch (IOException ignored) {
        // one side went away
      } finally {
        closeQuietly(from);
        closeQuietly(to);
        open.remove(from);
        open.remove(to);
      }
    });
  }

  private static void closeQuietly(AutoCloseable c) {
    try {
      if (c != null) c.close();
    } catch (Exception ignored) {
      // closing anyway
    }
  }
}
