package io.bulwark.worker;

import io.bulwark.core.metrics.Metrics;
import io.bulwark.postgres.Database;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * A worker's own small HTTP endpoint on loopback: {@code /health/live}, {@code /health/ready} (503
 * while the database is unreachable or the worker is stopping) and {@code /metrics}.
 */
public final class WorkerHealthServer implements AutoCloseable {
  private final Server server;
  private final ServerConnector connector;

  public WorkerHealthServer(String host, int port, Worker worker, Database db, Metrics metrics) {
    QueuedThreadPool pool = new QueuedThreadPool(8, 2);
    pool.setName("worker-health");
    server = new Server(pool);
    connector = new ServerConnector(server, 1, 1);
    connector.setHost(host);
    connector.setPort(port);
    server.addConnector(connector);
    server.setHandler(new Handler.Abstract() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) {
        String path = Request.getPathInContext(request);
        switch (path) {
          case "/health/live" -> send(response, callback, 200, "application/json", "{\"status\":\"up\"}");
          case "/health/ready" -> {
            boolean ok = worker.isHealthy() && db.isReachable();
            send(response, callback, ok ? 200 : 503, ok ? "application/json" : "application/problem+json",
                ok ? "{\"status\":\"ready\"}"
                    : "{\"type\":\"https://bulwark.dev/problems/unavailable\",\"title\":\"Service unavailable\","
                        + "\"status\":503,\"detail\":\"worker is stopping or the database is unreachable\"}");
          }
          case "/metrics" -> send(response, callback, 200, "text/plain; version=0.0.4; charset=utf-8", metrics.scrape());
          default -> send(response, callback, 404, "application/problem+json",
              "{\"type\":\"https://bulwark.dev/problems/not-found\",\"title\":\"Not found\",\"status\":404,"
                  + "\"detail\":\"worker endpoints: /health/live, /health/ready, /metrics\"}");
        }
        return true;
      }
    });
  }

  private static void send(Response response, Callback callback, int status, String type, String body) {
    byte[] b = body.getBytes(StandardCharsets.UTF_8);
    response.setStatus(status);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, type);
    response.write(true, ByteBuffer.wrap(b), callback);
  }

  public void start() throws Exception {
    server.start();
  }

  public int port() {
    return connector.getLocalPort();
  }

  @Override
  public void close() throws Exception {
    server.stop();
  }
}
