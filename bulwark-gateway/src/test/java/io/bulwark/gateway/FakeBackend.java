package io.bulwark.gateway;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Fields;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * A stand-in API server on real Jetty. {@code GET /health/ready} answers 200 (or 503 after
 * {@link #ready(boolean) ready(false)}); every other request is counted and recorded, and answered
 * with header {@code X-Backend: <name>} and the request body (or the name when there is none).
 *
 * <p>Special paths: {@code /hold} waits until {@link #releaseHeld()}; {@code /slow?ms=N} answers
 * after N ms; {@code /hop} answers with hop-by-hop headers; {@code /big?bytes=N} answers N bytes;
 * {@code /status?code=N} answers with that status. With {@link #dieOnRequests(boolean)} every
 * non-health request is read and then its connection is closed without an answer.
 */
final class FakeBackend implements AutoCloseable {
  /** One request as the backend saw it. */
  record Received(String method, String pathQuery, HttpFields headers, String body) {
    String header(String name) {
      return headers.get(name);
    }
  }

  final String name;
  final AtomicInteger requests = new AtomicInteger();
  final AtomicInteger healthChecks = new AtomicInteger();
  /** TCP connections accepted so far. */
  final AtomicInteger connectionsOpened = new AtomicInteger();
  final Queue<Received> received = new ConcurrentLinkedQueue<>();
  private final Queue<Runnable> held = new ConcurrentLinkedQueue<>();
  private final AtomicInteger holding = new AtomicInteger();
  private final ScheduledExecutorService timer;
  private volatile boolean ready = true;
  private volatile boolean die;
  private Server server;
  private int port;

  private FakeBackend(String name) {
    this.name = name;
    this.timer = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name(name + "-timer").factory());
  }

  static FakeBackend start(String name) {
    FakeBackend b = new FakeBackend(name);
    b.listen(0);
    return b;
  }

  String url() {
    return "http://127.0.0.1:" + port;
  }

  int port() {
    return port;
  }

  void ready(boolean r) {
    ready = r;
  }

  void dieOnRequests(boolean d) {
    die = d;
  }

  int holding() {
    return holding.get();
  }

  void releaseHeld() {
    for (Runnable r; (r = held.poll()) != null; ) r.run();
  }

  List<Received> receivedList() {
    return List.copyOf(received);
  }

  /** Stops at once: the port refuses connections and open connections are closed. */
  void stop() {
    try {
      server.stop();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** Starts again on the same port. */
  void restart() {
    listen(port);
  }

  private void listen(int p) {
    QueuedThreadPool pool = new QueuedThreadPool(64, 4);
    pool.setName(name + "-http");
    pool.setDaemon(true);
    server = new Server(pool);
    ServerConnector connector = new ServerConnector(server, 1, 1);
    connector.setHost("127.0.0.1");
    connector.setPort(p);
    connector.setReuseAddress(true);
    connector.addEventListener(new org.eclipse.jetty.io.Connection.Listener() {
      @Override
      public void onOpened(org.eclipse.jetty.io.Connection connection) {
        connectionsOpened.incrementAndGet();
      }
    });
    server.addConnector(connector);
    server.setStopTimeout(0);
    server.setHandler(new Handler.Abstract() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) throws Exception {
        serve(request, response, callback);
        return true;
      }
    });
    try {
      server.start();
    } catch (Exception e) {
      throw new IllegalStateException(name + " could not listen on port " + p, e);
    }
    port = connector.getLocalPort();
  }

  private void serve(Request request, Response response, Callback callback) throws Exception {
    String path = Request.getPathInContext(request);
    if (path.equals("/health/ready")) {
      healthChecks.incrementAndGet();
      send(response, callback, ready ? 200 : 503, ready ? "ready" : "not ready");
      return;
    }
    requests.incrementAndGet();
    String body = Content.Source.asString(request, StandardCharsets.UTF_8);
    received.add(new Received(request.getMethod(), request.getHttpURI().getPathQuery(), HttpFields.build(request.getHeaders()).asImmutable(), body));
    if (die) {
      request.getConnectionMetaData().getConnection().getEndPoint().close();
      callback.succeeded(); // nothing can be written any more: the client sees the connection close
      return;
    }
    response.getHeaders().put("X-Backend", name);
    Fields query = Request.extractQueryParameters(request);
    switch (path) {
      case "/hold" -> {
        holding.incrementAndGet();
        held.add(() -> {
          holding.decrementAndGet();
          send(response, callback, 200, "held " + name);
        });
      }
      case "/slow" -> timer.schedule(() -> send(response, callback, 200, "slow " + name),
          Long.parseLong(query.getValue("ms")), TimeUnit.MILLISECONDS);
      case "/hop" -> {
        HttpFields.Mutable h = response.getHeaders();
        h.put(HttpHeader.CONNECTION, "X-Backend-Hop");
        h.put("X-Backend-Hop", "secret");
        h.put(HttpHeader.KEEP_ALIVE, "timeout=5");
        h.put(HttpHeader.PROXY_AUTHENTICATE, "Basic realm=x");
        h.put("Proxy-Status", "x");
        h.put("X-End-To-End", "kept");
        send(response, callback, 200, "hop");
      }
      case "/big" -> {
        int n = Integer.parseInt(query.getValue("bytes"));
        byte[] data = new byte[n];
        for (int i = 0; i < n; i++) data[i] = (byte) ('a' + i % 26);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/octet-stream");
        response.write(true, ByteBuffer.wrap(data), callback);
      }
      case "/stream" -> { // no Content-Length: Jetty sends it chunked, one chunk per flush
        int n = Integer.parseInt(query.getValue("chunks"));
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain; charset=utf-8");
        try (java.io.OutputStream out = Content.Sink.asOutputStream(response)) {
          for (int i = 0; i < n; i++) {
            out.write(("chunk " + i + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
          }
        }
        callback.succeeded();
      }
      case "/stall" -> { // declares 1000 bytes, sends 10, then holds the rest until releaseHeld()
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, 1000);
        response.write(false, ByteBuffer.wrap("0123456789".getBytes(StandardCharsets.UTF_8)), Callback.NOOP);
        holding.incrementAndGet();
        held.add(() -> {
          holding.decrementAndGet();
          callback.failed(new java.io.IOException("stalled on purpose"));
        });
      }
      case "/status" -> send(response, callback, Integer.parseInt(query.getValue("code")), "status " + name);
      default -> send(response, callback, 200, body.isEmpty() ? name : body);
    }
  }

  private static void send(Response response, Callback callback, int status, String text) {
    response.setStatus(status);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain; charset=utf-8");
    response.write(true, ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)), callback);
  }

  @Override
  public void close() {
    try {
      if (server != null) server.stop();
    } catch (Exception ignored) {
      // best effort
    }
    timer.shutdownNow();
  }
}
