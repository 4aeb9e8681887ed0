package io.bulwark.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A TCP forwarder for fault injection between "hosts" on one machine: in front of a database, an etcd
 * member, any TCP service. Two faults: {@link #cut()} (stop listening and drop every open connection:
 * the peer is refused at once, like a stopped service) and {@link #partition()} (keep every
 * connection and accept new ones, but forward nothing in either direction: the peer hears nothing
 * and waits for its timeouts, like a network partition). {@link #restore()} and {@link #heal()} undo
 * them.
 */
public final class TcpProxy implements AutoCloseable {
  private final String host;
  private final int targetPort;
  private final int port;
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private volatile ServerSocket listener;
  private volatile boolean partitioned;

  public TcpProxy(String host, int targetPort) throws IOException {
    this.host = host;
    this.targetPort = targetPort;
    this.listener = listen(0);
    this.port = listener.getLocalPort();
  }

  public int port() {
    return port;
  }

  /** Stops accepting and closes every forwarded connection: the database is now unreachable. */
  public void cut() {
    synchronized (open) {
      closeQuietly(listener);
      for (Socket s : open) closeQuietly(s);
      open.clear();
    }
  }

  /** Forwards nothing from now on, in either direction, without closing anything: a partition. */
  public void partition() {
    partitioned = true;
  }

  /** Forwards again. What was sent during the partition is lost, as on a network that dropped it. */
  public void heal() {
    partitioned = false;
  }

  /** Listens on the same port again. */
  public void restore() throws IOException {
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
        synchronized (open) {
          // accepted just as the proxy was cut (the upstream connect takes a moment): refused like the rest
          if (s.isClosed()) {
            closeQuietly(client);
            closeQuietly(upstream);
            return;
          }
          open.add(client);
          open.add(upstream);
        }
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
        for (int n; (n = in.read(buf)) >= 0; ) {
          if (!partitioned) out.write(buf, 0, n);
        }
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
