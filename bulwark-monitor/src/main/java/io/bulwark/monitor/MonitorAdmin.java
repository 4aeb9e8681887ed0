package io.bulwark.monitor;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.bulwark.core.http.AdminHttp;
import io.bulwark.core.metrics.Metrics;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The monitor's admin API, on loopback only (what `bulwark incidents` talks to):
 *
 * <pre>
 * GET  /incidents                 every incident kept, newest first (?open=true: only those not resolved)
 * GET  /incidents/ID              one incident, with its diagnosis, timeline and deliveries
 * POST /incidents/ID/ack          acknowledge: no further escalation step is told; body {"by": "NAME"} (application/json, optional)
 * POST /incidents/ID/resolve      resolve by hand; body as for ack
 * GET  /checks                    every check's state (SOFT/HARD, attempt, flapping)
 * GET  /metrics                   Prometheus text
 * GET  /health/live, /health/ready
 * </pre>
 *
 * Errors are {@code application/problem+json}. Request bodies are capped at 4 KiB.
 */
public final class MonitorAdmin implements AutoCloseable {
  private static final int MAX_BODY = 4096;
  private static final Pattern INCIDENT = Pattern.compile("/incidents/(\\d{1,18})(/ack|/resolve)?");
  private final HttpServer server;
  private final Monitor monitor;
  private final Metrics metrics;

  public MonitorAdmin(Monitor monitor, Metrics metrics, int port) throws IOException {
    this.monitor = monitor;
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
      Matcher m = INCIDENT.matcher(path);
      if (path.equals("/incidents")) {
        if (!method.equals("GET")) {
          AdminHttp.problem(ex, 405, "Method not allowed", "/incidents answers GET");
          return;
        }
        boolean openOnly = "open=true".equals(ex.getRequestURI().getQuery());
        ArrayNode out = IncidentStore.JSON.createArrayNode();
        for (ObjectNode i : monitor.incidents()) if (!openOnly || !"RESOLVED".equals(i.path("state").asText())) out.add(i);
        AdminHttp.send(ex, 200, "application/json", out.toString());
      } else if (m.matches()) {
        long id = Long.parseLong(m.group(1));
        String action = m.group(2);
        if (action == null) {
          if (!method.equals("GET")) {
            AdminHttp.problem(ex, 405, "Method not allowed", path + " answers GET");
            return;
          }
          Optional<ObjectNode> i = monitor.incidents().stream().filter(x -> x.path("id").asLong() == id).findFirst();
          if (i.isEmpty()) AdminHttp.problem(ex, 404, "No such incident", "no incident #" + id + "; GET /incidents lists them");
          else AdminHttp.send(ex, 200, "application/json", i.get().toString());
          return;
        }
        if (!method.equals("POST")) {
          AdminHttp.problem(ex, 405, "Method not allowed", path + " answers POST");
          return;
        }
        String by = by(ex);
        if (by == null) return;
        Optional<ObjectNode> done = action.equals("/ack") ? monitor.acknowledge(id, by) : monitor.resolve(id, by);
        if (done.isEmpty()) AdminHttp.problem(ex, 404, "No such incident", "no incident #" + id + "; GET /incidents lists them");
        else AdminHttp.send(ex, 200, "application/json", done.get().toString());
      } else if (path.equals("/checks")) {
        ArrayNode out = IncidentStore.JSON.createArrayNode();
        List<ObjectNode> checks = monitor.checks();
        out.addAll(checks);
        AdminHttp.send(ex, 200, "application/json", out.toString());
      } else if (path.equals("/metrics")) {
        AdminHttp.send(ex, 200, "text/plain; version=0.0.4", metrics.scrape());
      } else if (path.equals("/health/live")) {
        AdminHttp.send(ex, 200, "application/json", "{\"status\":\"up\"}");
      } else if (path.equals("/health/ready")) {
        boolean ready = monitor.ready();
        AdminHttp.send(ex, ready ? 200 : 503, "application/json", ready ? "{\"status\":\"up\"}" : "{\"status\":\"starting\"}");
      } else {
        AdminHttp.problem(ex, 404, "Not found", "the monitor's admin API has /incidents, /incidents/ID, /incidents/ID/ack, /incidents/ID/resolve,"
            + " /checks, /metrics and /health/live|ready");
      }
    } catch (IllegalStateException e) {
      AdminHttp.problem(ex, 503, "Monitor busy", e.getMessage());
    }
  }

  /** Who acknowledges or resolves: {"by": NAME} as application/json, or "operator" without a body. */
  private static String by(HttpExchange ex) throws IOException {
    byte[] bytes;
    try (InputStream in = ex.getRequestBody()) {
      bytes = in.readNBytes(MAX_BODY + 1);
    }
    if (bytes.length == 0) return "operator";
    if (bytes.length > MAX_BODY) {
      AdminHttp.problem(ex, 413, "Body too large", "at most " + MAX_BODY + " bytes");
      return null;
    }
    String type = ex.getRequestHeaders().getFirst("Content-Type");
    if (type == null || !type.toLowerCase(Locale.ROOT).startsWith("application/json")) {
      // a browser's cross-origin "simple" POST cannot send this type without a preflight this API never answers
      AdminHttp.problem(ex, 415, "Unsupported media type", "send {\"by\": NAME} as Content-Type: application/json");
      return null;
    }
    JsonNode body;
    try {
      body = IncidentStore.JSON.readTree(bytes);
    } catch (IOException e) {
      AdminHttp.problem(ex, 400, "Invalid JSON", "the body must be {\"by\": NAME}");
      return null;
    }
    String by = body == null ? null : body.path("by").asText(null);
    if (by == null || by.isBlank() || by.length() > 100) {
      AdminHttp.problem(ex, 400, "Missing by", "the body must say who: {\"by\": NAME} (1-100 characters)");
      return null;
    }
    return by.strip();
  }



  @Override
  public void close() {
    server.stop(0);
  }
}
