package io.bulwark.dns;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.bulwark.core.http.AdminHttp;
import io.bulwark.core.metrics.Metrics;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The DNS controller's admin API, on loopback only (what `bulwark dns status|switch` talk to):
 *
 * <pre>
 * GET  /status          the controller's {@link DnsStatus} as JSON
 * POST /switch          {"gateway": "gateway-b", "force": false} as application/json: a planned switch; 200 with the new status,
 *                       404 unknown gateway, 409 refused (target unhealthy, or this controller is not the leader),
 *                       503 the provider failed
 * GET  /metrics         Prometheus text
 * GET  /health/live     200 while the process runs
 * GET  /health/ready    200 once the controller has checked the gateways
 * </pre>
 *
 * Errors are {@code application/problem+json} (RFC 9457). Request bodies are capped at 4 KiB.
 */
public final class DnsAdmin implements AutoCloseable {
  static final ObjectMapper JSON = new ObjectMapper().registerModule(new JavaTimeModule())
      .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS);
  private static final int MAX_BODY = 4096;

  private final HttpServer server;
  private final DnsController controller;
  private final Metrics metrics;

  public DnsAdmin(DnsController controller, Metrics metrics, int port) throws IOException {
    this.controller = controller;
    this.metrics = metrics;
    this.server = AdminHttp.loopbackServer(port);
    server.createContext("/", this::handle);
  }

  public void start() {
    server.start();
  }

  public int port() {
    return server.getAddress().getPort();
  }

  private void handle(HttpExchange ex) throws IOException {
    try (ex) {
      String path = ex.getRequestURI().getPath();
      String method = ex.getRequestMethod();
      switch (path) {
        case "/status" -> {
          if (!method.equals("GET")) AdminHttp.problem(ex, 405, "Method not allowed", "/status answers GET");
          else json(ex, 200, controller.status());
        }
        case "/switch" -> {
          if (!method.equals("POST")) AdminHttp.problem(ex, 405, "Method not allowed", "/switch answers POST {\"gateway\": NAME, \"force\": false}");
          else planned(ex);
        }
        case "/metrics" -> AdminHttp.send(ex, 200, "text/plain; version=0.0.4", metrics.scrape());
        case "/health/live" -> AdminHttp.send(ex, 200, "application/json", "{\"status\":\"up\"}");
        case "/health/ready" -> {
          boolean checked = controller.status().gateways().stream().anyMatch(g -> !g.health().equals("unknown"));
          AdminHttp.send(ex, checked ? 200 : 503, "application/json", checked ? "{\"status\":\"up\"}" : "{\"status\":\"starting\"}");
        }
        default -> AdminHttp.problem(ex, 404, "Not found", "the DNS admin API has /status, /switch, /metrics, /health/live and /health/ready");
      }
    }
  }

  private void planned(HttpExchange ex) throws IOException {
    String type = ex.getRequestHeaders().getFirst("Content-Type");
    if (type == null || !type.toLowerCase(java.util.Locale.ROOT).startsWith("application/json")) {
      // a browser's cross-origin "simple" POST cannot send this type without a preflight the API never answers
      AdminHttp.problem(ex, 415, "Unsupported media type", "send the switch as Content-Type: application/json");
      return;
    }
    JsonNode body;
    try (InputStream in = ex.getRequestBody()) {
      byte[] bytes = in.readNBytes(MAX_BODY + 1);
      if (bytes.length > MAX_BODY) {
        AdminHttp.problem(ex, 413, "Body too large", "a switch request is at most " + MAX_BODY + " bytes");
        return;
      }
      body = JSON.readTree(bytes);
    } catch (IOException e) {
      AdminHttp.problem(ex, 400, "Invalid JSON", "the body must be {\"gateway\": NAME, \"force\": false}");
      return;
    }
    if (body == null || !body.path("gateway").isTextual()) {
      AdminHttp.problem(ex, 400, "Missing gateway", "the body must name the target: {\"gateway\": NAME, \"force\": false}");
      return;
    }
    try {
      DnsStatus after = controller.switchTo(body.path("gateway").asText(), body.path("force").asBoolean(false)).get(30, TimeUnit.SECONDS);
      json(ex, 200, after);
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof DnsController.UnknownGatewayException) AdminHttp.problem(ex, 404, "Unknown gateway", c.getMessage());
      else if (c instanceof DnsUnavailableException) AdminHttp.problem(ex, 503, "DNS provider unavailable", c.getMessage());
      else if (c instanceof DnsController.NotLeaderException || c instanceof DnsConfigException) AdminHttp.problem(ex, 409, "Switch refused", c.getMessage());
      else AdminHttp.problem(ex, 500, "Switch failed", String.valueOf(c));
    } catch (TimeoutException e) {
      AdminHttp.problem(ex, 503, "Switch timed out", "the controller did not finish the switch within 30 s");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      AdminHttp.problem(ex, 503, "Interrupted", "the controller is stopping");
    }
  }

  private static void json(HttpExchange ex, int status, Object value) throws IOException {
    AdminHttp.send(ex, status, "application/json", JSON.writeValueAsString(value));
  }



  @Override
  public void close() {
    server.stop(0);
  }
}
