package io.bulwark.dns;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;

/**
 * Stands in for a gateway's public port in the controller's tests: answers /health/ready with 200,
 * or 503 as Bulwark's gateway does when it reaches no API server, or stops listening (a dead gateway).
 * The whole front door with real gateways is the CLI's DNS drill.
 */
final class FakeGateway implements AutoCloseable {
  final String name;
  final String address;
  final int port;
  private volatile int status = 200;
  private volatile boolean hung;
  private final java.util.concurrent.CountDownLatch released = new java.util.concurrent.CountDownLatch(1);
  private HttpServer server;

  FakeGateway(String name, String address, int port) throws IOException {
    this.name = name;
    this.address = address;
    this.port = port;
    start();
  }

  void start() throws IOException {
    server = HttpServer.create(new InetSocketAddress(address, port), 16);
    server.setExecutor(java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor());
    server.createContext("/health/ready", ex -> {
      if (hung) {
        try {
          released.await(); // a host cut off: the connection is accepted and nothing comes back
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      ex.sendResponseHeaders(status, -1);
      ex.close();
    });
    server.start();
  }

  /** Alive but cannot reach an API server. */
  void noApiServer() {
    status = 503;
  }

  /** Accepts checks and never answers them, as a gateway whose host is cut off or hung. */
  void hang() {
    hung = true;
  }

  void healthy() {
    status = 200;
  }

  void kill() {
    server.stop(0);
  }

  Gateway gateway() {
    return Gateway.at(name, address, port);
  }

  @Override
  public void close() {
    released.countDown();
    server.stop(0);
  }
}
