package io.bulwark.node;

import io.bulwark.core.BulwarkException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;

/** Loopback port helpers. */
public final class Ports {
  private Ports() {}

  /** Ports this process has handed out; never handed out twice (components bind them later). */
  private static final java.util.Set<Integer> HANDED_OUT = java.util.concurrent.ConcurrentHashMap.newKeySet();

  /**
   * A loopback port that is free now and that this process has not handed out before. The port is
   * released before a child process binds it, so without the memory two calls could return the same
   * port, and one of two components would crash-loop on "address in use".
   */
  public static int free() {
    for (int attempt = 0; attempt < 100; attempt++) {
      try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
        if (HANDED_OUT.add(s.getLocalPort())) return s.getLocalPort();
      } catch (IOException e) {
        throw new BulwarkException("cannot find a free loopback port: " + e.getMessage(), e);
      }
    }
    throw new BulwarkException("cannot find a loopback port not handed out before after 100 tries");
  }

  public static boolean isFree(String host, int port) {
    try (ServerSocket s = new ServerSocket()) {
      s.setReuseAddress(true);
      s.bind(new InetSocketAddress(host, port));
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  public static boolean accepts(int port, int timeoutMs) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), timeoutMs);
      return true;
    } catch (IOException e) {
      return false;
    }
  }
}
