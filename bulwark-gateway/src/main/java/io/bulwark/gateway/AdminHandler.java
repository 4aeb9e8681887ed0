package io.bulwark.gateway;

import io.bulwark.core.BulwarkException;
import io.bulwark.core.metrics.Metrics;
import java.nio.ByteBuffer;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * The admin API, on its own loopback port:
 *
 * <pre>
 * GET  /servers                 [{name, url, backup, state, health, usable, inFlight, requests, checks{...}}]
 * GET  /servers/{name}          one server
 * PUT  /servers/{name}          body {"url":"http://host:port","backup":false}: add a server (in service once a check passes)
 * DELETE /servers/{name}        remove a server (requests in flight finish; the last primary cannot go)
 * POST /servers/{name}/state    body "ready" | "drain" | "maint", or {"state":"drain"} → 200 with the server
 * GET  /health/live             200 while the gateway runs
 * GET  /health/ready            200 while some server is usable, else 503
 * GET  /metrics                 Prometheus text
 * </pre>
 */
final class AdminHandler extends Handler.Abstract {
  private static final Pattern SERVER = Pattern.compile("/servers/([^/]+)");
  private static final Pattern STATE = Pattern.compile("/servers/([^/]+)/state");
  private static final Pattern STATE_JSON = Pattern.compile("\\{\\s*\"state\"\\s*:\\s*\"([A-Za-z]+)\"\\s*}");
  private static final int MAX_BODY = 1024;
  private static final String JSON = "application/json";

  private final Gateway gateway;
  private final Metrics metrics;

  AdminHandler(Gateway gateway, Metrics metrics) {
    this.gateway = gateway;
    this.metrics = metrics;
  }

  @Override
  public boolean handle(Request request, Response response, Callback callback) throws Exception {
    String path = Request.getPathInContext(request);
    String method = request.getMethod();
    Matcher m;
    try {
      if (path.equals("/servers")) {
        if (!only(method, "GET", request, response, callback)) return true;
        StringBuilder out = new StringBuilder("[");
        for (ServerSnapshot s : gateway.servers()) {
          if (out.length() > 1) out.append(',');
          server(out, s);
        }
        send(response, callback, 200, JSON, out.append(']').toString());
      } else if ((m = STATE.matcher(path)).matches()) {
        if (!only(method, "POST", request, response, callback)) return true;
        String name = m.group(1);
        ServerState state = parseState(Content.Source.asString(request, StandardCharsets.UTF_8));
        gateway.setState(name, state);
        send(response, callback, 200, JSON, server(new StringBuilder(), gateway.server(name)).toString());
      } else if ((m = SERVER.matcher(path)).matches()) {
        String name = m.group(1);
        switch (method) {
          case "GET" -> send(response, callback, 200, JSON, server(new StringBuilder(), gateway.server(name)).toString());
          case "PUT" -> {
            BackendConfig added = parseServer(name, Content.Source.asString(request, StandardCharsets.UTF_8));
            try {
              send(response, callback, 200, JSON, server(new StringBuilder(), gateway.addServer(added)).toString());
            } catch (IllegalStateException e) {
              problem(request, response, callback, new Problems.Problem(409, "server-exists", "Server exists", e.getMessage()));
            }
          }
          case "DELETE" -> {
            try {
              gateway.removeServer(name);
              send(response, callback, 200, JSON, "{\"removed\":\"" + name + "\"}");
            } catch (IllegalStateException e) {
              problem(request, response, callback, new Problems.Problem(409, "last-server", "Last server", e.getMessage()));
            }
          }
          default -> {
            response.getHeaders().put(HttpHeader.ALLOW, "GET, PUT, DELETE");
            problem(request, response, callback, new Problems.Problem(405, "method-not-allowed", "Method not allowed",
                path + " takes GET, PUT (add: {\"url\":\"http://host:port\"}) and DELETE (remove)"));
          }
        }
      } else if (path.equals("/health/live")) {
        send(response, callback, 200, JSON, "{\"status\":\"up\"}");
      } else if (path.equals("/health/ready")) {
        boolean ready = gateway.anyServerUsable();
        send(response, callback, ready ? 200 : 503, JSON, ready ? "{\"status\":\"up\"}" : "{\"status\":\"no server usable\"}");
      } else if (path.equals("/metrics")) {
        send(response, callback, 200, "text/plain; version=0.0.4; charset=utf-8", metrics.scrape());
      } else {
        problem(request, response, callback, new Problems.Problem(404, "not-found", "Not found",
            "the admin API has /servers, /servers/{name} (GET, PUT, DELETE), /servers/{name}/state, /health/live, /health/ready and /metrics"));
      }
    } catch (UnknownServerException e) {
      problem(request, response, callback, new Problems.Problem(404, "unknown-server", "Unknown server", e.getMessage()));
    } catch (BulwarkException e) {
      problem(request, response, callback, new Problems.Problem(400, "invalid-state", "Invalid state", e.getMessage()));
    }
    return true;
  }

  private static final Pattern URL_JSON = Pattern.compile("\"url\"\\s*:\\s*\"([^\"]{1,300})\"");
  private static final Pattern BACKUP_JSON = Pattern.compile("\"backup\"\\s*:\\s*(true|false)");

  /** {@code {"url":"http://host:port","backup":false}}: a server to add. */
  static BackendConfig parseServer(String name, String body) {
    if (body.length() > MAX_BODY) throw new BulwarkException("the server body must be {\"url\":\"http://host:port\"}, at most " + MAX_BODY + " bytes");
    Matcher url = URL_JSON.matcher(body);
    if (!url.find()) throw new BulwarkException("the server body must name its url: {\"url\":\"http://host:port\"}");
    Matcher backup = BACKUP_JSON.matcher(body);
    URI uri;
    try {
      uri = URI.create(url.group(1));
    } catch (IllegalArgumentException e) {
      throw new BulwarkException("url '" + url.group(1) + "' is not a URL; write http://host:port");
    }
    return new BackendConfig(name, uri, backup.find() && backup.group(1).equals("true"));
  }

  static ServerState parseState(String body) {
    if (body.length() > MAX_BODY) throw new BulwarkException("the state body must be ready, drain or maint");
    String s = body.strip();
    Matcher json = STATE_JSON.matcher(s);
    if (json.matches()) s = json.group(1);
    else if (s.length() > 1 && s.startsWith("\"") && s.endsWith("\"")) s = s.substring(1, s.length() - 1);
    return ServerState.parse(s);
  }

  static StringBuilder server(StringBuilder out, ServerSnapshot s) {
    out.append('{');
    Json.field(out, "name", s.name()).append(',');
    Json.field(out, "url", s.url().toString()).append(',');
    Json.field(out, "backup", s.backup()).append(',');
    Json.field(out, "state", s.state().label()).append(',');
    Json.field(out, "health", s.health().label()).append(',');
    Json.field(out, "usable", s.usable()).append(',');
    Json.field(out, "inFlight", s.inFlight()).append(',');
    Json.field(out, "requests", s.requests()).append(',');
    Json.string(out, "checks").append(":{");
    Json.field(out, "passed", s.checksPassed()).append(',');
    Json.field(out, "failed", s.checksFailed()).append(',');
    Json.field(out, "last", s.lastCheck()).append(',');
    Json.field(out, "lastAt", s.lastCheckAt() == null ? null : s.lastCheckAt().toString()).append(',');
    Json.field(out, "healthSince", s.healthSince().toString());
    return out.append("}}");
  }

  private static boolean only(String method, String allowed, Request request, Response response, Callback callback) {
    if (method.equals(allowed)) return true;
    response.getHeaders().put(HttpHeader.ALLOW, allowed);
    problem(request, response, callback, new Problems.Problem(405, "method-not-allowed", "Method not allowed",
        Request.getPathInContext(request) + " only takes " + allowed));
    return false;
  }

  private static void problem(Request request, Response response, Callback callback, Problems.Problem p) {
    Problems.send(response, callback, p, Request.getPathInContext(request), null);
  }

  private static void send(Response response, Callback callback, int status, String type, String body) {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    response.setStatus(status);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, type);
    response.getHeaders().put(HttpHeader.CONTENT_LENGTH, bytes.length);
    response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
    response.write(true, ByteBuffer.wrap(bytes), callback);
  }
}
