package io.bulwark.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;

/**
 * Cloudflare's DNS records API v4 for one zone, on 127.0.0.1, as far as Bulwark's CloudflareProvider (bulwark-dns) uses it:
 * {@code GET /zones/{id}}, {@code GET|POST /zones/{id}/dns_records} (list filtered by {@code type} and {@code name},
 * create) and {@code GET|PATCH|PUT|DELETE /zones/{id}/dns_records/{record}}, under {@code /client/v4}, every answer in
 * the envelope {@code {success, errors, messages, result}}.
 *
 * <p>Errors as Cloudflare gives them: an unknown bearer token, or a read-only one writing: 403 code 10000
 * "Authentication error"; no or a malformed Authorization header: 400 code 9106 / 6003 (6111); an unknown zone id:
 * 400 codes 7003 "Could not route to ..., perhaps your object identifier is invalid?" and 7000; a missing record: 404
 * code 81044; invalid A / AAAA content: 400 code 9005 / 9006; a ttl other than 1 or 60 to 86400: 400 code 1004 with
 * 9021 in its error chain; a CNAME next to other records at a name: 400 code 81053 / 81054; an identical record:
 * 81058. A name outside the zone is taken as relative to it, as Cloudflare does. Proxied records are stored with ttl 1.
 *
 * <p>Faults: {@link #failNext} (500 with an envelope, 429 with {@code Retry-After: 1} and code 971), {@link #garbleNext}
 * (200 with an HTML page), {@link #stallNext} (no answer until closed).
 */
public final class FakeCloudflare implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String PREFIX = "/client/v4";
  private static final String OCTET = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
  private static final Pattern IPV4 = Pattern.compile("(" + OCTET + "\\.){3}" + OCTET);
  private static final String LABEL = "[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?";
  private static final Pattern HOST = Pattern.compile("(?i)(" + LABEL + "\\.)*" + LABEL + "\\.?");

  /** One stored record. */
  public record Rec(String id, String type, String name, String content, int ttl, boolean proxied) {}

  private final String zoneId;
  private final String zoneName;
  private final HttpServer server;
  private final ExecutorService executor = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "fake-cloudflare");
    t.setDaemon(true);
    return t;
  });
  /** Token to whether it may edit. */
  private final Map<String, Boolean> tokens = new ConcurrentHashMap<>();
  private final Map<String, Rec> records = new LinkedHashMap<>(); // guarded by this
  private final AtomicInteger requests = new AtomicInteger();
  private final List<String> requestLog = new CopyOnWriteArrayList<>();
  private final CountDownLatch closed = new CountDownLatch(1);
  // guarded by this
  private int failRemaining;
  private int failStatus;
  private int garbleRemaining;
  private int stallRemaining;

  public FakeCloudflare(String zoneId, String zoneName) throws IOException {
    this.zoneId = zoneId;
    this.zoneName = zoneName.toLowerCase(Locale.ROOT);
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.setExecutor(executor);
    server.createContext("/", this::handle);
    server.start();
  }

  /** Accepts {@code token}, for reading only unless {@code canEdit}. */
  public FakeCloudflare token(String token, boolean canEdit) {
    tokens.put(token, canEdit);
    return this;
  }

  /** {@code http://127.0.0.1:port/client/v4}. */
  public URI apiBase() {
    return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + PREFIX);
  }

  /** Adds a record directly (not proxied); returns its id. */
  public synchronized String add(String type, String name, String content, int ttl) {
    Rec r = new Rec(newId(), type, name.toLowerCase(Locale.ROOT), content, ttl, false);
    records.put(r.id(), r);
    return r.id();
  }

  /** The content of the first record of {@code type} at {@code name}, read directly. */
  public synchronized Optional<String> content(String type, String name) {
    return records.values().stream().filter(r -> r.type().equals(type) && r.name().equals(name)).map(Rec::content).findFirst();
  }

  public synchronized Rec record(String id) {
    return records.get(id);
  }

  public synchronized List<Rec> records() {
    return List.copyOf(records.values());
  }

  /** The next {@code n} requests get {@code status} (429 with {@code Retry-After: 1}), whatever they ask. */
  public synchronized void failNext(int n, int status) {
    failRemaining = n;
    failStatus = status;
  }

  /** The next {@code n} requests get 200 with an HTML page instead of an API answer. */
  public synchronized void garbleNext(int n) {
    garbleRemaining = n;
  }

  /** The next {@code n} requests get no answer at all until this fake is closed. */
  public synchronized void stallNext(int n) {
    stallRemaining = n;
  }

  /** Requests received, answered or not. */
  public int requests() {
    return requests.get();
  }

  /** "METHOD /zones/..." (without {@code /client/v4} and the query) for every request received. */
  public List<String> requestLog() {
    return List.copyOf(requestLog);
  }

  @Override
  public void close() {
    closed.countDown();
    server.stop(0);
    executor.shutdownNow();
  }

  private void handle(HttpExchange ex) throws IOException {
    try (ex) {
      requests.incrementAndGet();
      String path = ex.getRequestURI().getRawPath();
      requestLog.add(ex.getRequestMethod() + " " + (path.startsWith(PREFIX) ? path.substring(PREFIX.length()) : path));
      byte[] in;
      try (InputStream body = ex.getRequestBody()) {
        in = body.readAllBytes();
      }
      int fail;
      boolean garble;
      boolean stall;
      synchronized (this) {
        stall = stallRemaining > 0;
        if (stall) stallRemaining--;
        fail = !stall && failRemaining > 0 ? failStatus : 0;
        if (fail != 0) failRemaining--;
        garble = !stall && fail == 0 && garbleRemaining > 0;
        if (garble) garbleRemaining--;
      }
      if (stall) {
        closed.await(60, TimeUnit.SECONDS);
        return;
      }
      if (fail == 429) {
        ex.getResponseHeaders().set("Retry-After", "1");
        send(ex, 429, error(971, "Please wait and consider throttling your request speed"));
      } else if (fail != 0) {
        send(ex, fail, error(10001, "An internal error occurred"));
      } else if (garble) {
        byte[] html = "<html><body><h1>502 Bad Gateway</h1></body></html>".getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "text/html");
        ex.sendResponseHeaders(200, html.length);
        ex.getResponseBody().write(html);
      } else {
        Answer a = answer(ex, path, in);
        send(ex, a.status(), a.body());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      send(ex, 500, error(10001, "fake failed: " + e));
    }
  }

  private record Answer(int status, ObjectNode body) {}

  private Answer answer(HttpExchange ex, String path, byte[] in) {
    String auth = ex.getRequestHeaders().getFirst("Authorization");
    if (auth == null) return new Answer(400, error(9106, "Missing X-Auth-Key, X-Auth-Email or Authorization headers"));
    if (!auth.startsWith("Bearer ")) {
      ObjectNode e = error(6003, "Invalid request headers");
      ((ObjectNode) e.get("errors").get(0)).putArray("error_chain").add(err(6111, "Invalid format for Authorization header"));
      return new Answer(400, e);
    }
    Boolean canEdit = tokens.get(auth.substring("Bearer ".length()));
    if (canEdit == null) return new Answer(403, error(10000, "Authentication error"));
    if (!path.startsWith(PREFIX + "/")) return noRoute(path);
    String[] parts = path.substring(PREFIX.length() + 1).split("/", -1);
    if (parts.length < 2 || !parts[0].equals("zones") || !parts[1].equals(zoneId)) return noRoute(path);
    String method = ex.getRequestMethod();
    boolean write = !method.equals("GET");
    if (parts.length == 2 && method.equals("GET")) return ok(zone());
    if (parts.length < 3 || !parts[2].equals("dns_records") || parts.length > 4) return noRoute(path);
    if (write && !canEdit) return new Answer(403, error(10000, "Authentication error"));
    synchronized (this) {
      if (parts.length == 3) {
        if (method.equals("GET")) return list(ex.getRequestURI().getRawQuery());
        if (method.equals("POST")) return save(null, in);
        return new Answer(405, error(10000, "Method not allowed"));
      }
      Rec r = records.get(parts[3]);
      if (r == null) return new Answer(404, error(81044, "Record does not exist."));
      return switch (method) {
        case "GET" -> ok(json(r));
        case "PATCH", "PUT" -> save(r, in);
        case "DELETE" -> {
          records.remove(r.id());
          yield ok(JSON.createObjectNode().put("id", r.id()));
        }
        default -> new Answer(405, error(10000, "Method not allowed"));
      };
    }
  }

  private Answer list(String rawQuery) {
    Map<String, String> q = new HashMap<>();
    if (rawQuery != null) {
      for (String kv : rawQuery.split("&")) {
        int eq = kv.indexOf('=');
        if (eq > 0) q.put(kv.substring(0, eq), URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8));
      }
    }
    String type = q.get("type");
    String name = q.getOrDefault("name", q.get("name.exact"));
    ArrayNode result = JSON.createArrayNode();
    for (Rec r : records.values()) {
      if (type != null && !r.type().equalsIgnoreCase(type)) continue;
      if (name != null && !r.name().equals(name.toLowerCase(Locale.ROOT))) continue;
      result.add(json(r));
    }
    ObjectNode a = envelope(true, result);
    a.putObject("result_info").put("page", 1).put("per_page", 100).put("count", result.size())
        .put("total_count", result.size()).put("total_pages", 1);
    return new Answer(200, a);
  }

  /** Creates ({@code old} null) or changes a record, checking it as Cloudflare does. */
  private Answer save(Rec old, byte[] in) {
    JsonNode b;
    try {
      b = JSON.readTree(in);
    } catch (IOException e) {
      return new Answer(400, error(9207, "Request body is invalid."));
    }
    if (b == null || !b.isObject()) return new Answer(400, error(9207, "Request body is invalid."));
    String type = b.path("type").asText(old == null ? "" : old.type()).toUpperCase(Locale.ROOT);
    String name = b.path("name").asText(old == null ? "" : old.name()).toLowerCase(Locale.ROOT);
    if (name.endsWith(".")) name = name.substring(0, name.length() - 1);
    if (name.equals("@")) name = zoneName;
    if (!name.equals(zoneName) && !name.endsWith("." + zoneName)) name = name + "." + zoneName; // relative to the zone
    String content = b.path("content").asText(old == null ? "" : old.content());
    int ttl = b.path("ttl").asInt(old == null ? 1 : old.ttl());
    boolean proxied = b.path("proxied").asBoolean(old != null && old.proxied());
    if (type.isEmpty()) return new Answer(400, error(9101, "DNS record type is invalid."));
    if (content.isEmpty()) return new Answer(400, error(9008, "DNS record content is required."));
    if (type.equals("A") && !IPV4.matcher(content).matches()) {
      return new Answer(400, error(9005, "Content for A record must be a valid IPv4 address."));
    }
    if (type.equals("AAAA") && !ipv6(content)) {
      return new Answer(400, error(9006, "Content for AAAA record must be a valid IPv6 address."));
    }
    if (type.equals("CNAME") && !HOST.matcher(content).matches()) {
      return new Answer(400, error(9007, "Content for CNAME record is invalid."));
    }
    if (proxied && !List.of("A", "AAAA", "CNAME").contains(type)) {
      return new Answer(400, error(9004, "This record type cannot be proxied."));
    }
    if (proxied) ttl = 1;
    if (ttl != 1 && (ttl < 60 || ttl > 86_400)) {
      ObjectNode e = error(1004, "DNS Validation Error");
      ((ObjectNode) e.get("errors").get(0)).putArray("error_chain")
          .add(err(9021, "TTL must be between 60 and 86400 seconds, or 1 for Automatic."));
      return new Answer(400, e);
    }
    for (Rec other : records.values()) {
      if ((old != null && other.id().equals(old.id())) || !other.name().equals(name)) continue;
      if (other.type().equals(type) && other.content().equalsIgnoreCase(content)) {
        return new Answer(400, error(81058, "An identical record already exists."));
      }
      if (type.equals("CNAME") && List.of("A", "AAAA", "CNAME").contains(other.type())) {
        return new Answer(400, error(81053, "An A, AAAA, or CNAME record with that host already exists."));
      }
      if (other.type().equals("CNAME")) return new Answer(400, error(81054, "A CNAME record with that host already exists."));
    }
    Rec r = new Rec(old == null ? newId() : old.id(), type, name, content, ttl, proxied);
    records.put(r.id(), r);
    return ok(json(r));
  }

  private static boolean ipv6(String s) {
    if (!s.contains(":") || !s.matches("[0-9A-Fa-f:.]+")) return false;
    try {
      return InetAddress.getByName(s).getAddress().length == 16; // a literal: no lookup
    } catch (IOException e) {
      return false;
    }
  }

  private ObjectNode zone() {
    ObjectNode z = JSON.createObjectNode();
    z.put("id", zoneId).put("name", zoneName).put("status", "active").put("paused", false).put("type", "full");
    z.putArray("name_servers").add("ada.ns.cloudflare.com").add("bob.ns.cloudflare.com");
    z.putObject("account").put("id", "01a7362d577a6c3019a474fd6f485823").put("name", "Fake account");
    return z;
  }

  private ObjectNode json(Rec r) {
    ObjectNode n = JSON.createObjectNode();
    n.put("id", r.id()).put("zone_id", zoneId).put("zone_name", zoneName).put("name", r.name()).put("type", r.type())
        .put("content", r.content()).put("proxiable", List.of("A", "AAAA", "CNAME").contains(r.type()))
        .put("proxied", r.proxied()).put("ttl", r.ttl());
    n.putObject("settings");
    n.putObject("meta").put("auto_added", false);
    n.putNull("comment");
    n.putArray("tags");
    String now = Instant.now().toString();
    n.put("created_on", now).put("modified_on", now);
    return n;
  }

  private Answer noRoute(String path) {
    ObjectNode e = error(7003, "Could not route to " + path + ", perhaps your object identifier is invalid?");
    ((ArrayNode) e.get("errors")).add(err(7000, "No route for that URI"));
    return new Answer(400, e);
  }

  private static Answer ok(JsonNode result) {
    return new Answer(200, envelope(true, result));
  }

  private static ObjectNode envelope(boolean success, JsonNode result) {
    ObjectNode e = JSON.createObjectNode();
    e.put("success", success);
    e.putArray("errors");
    e.putArray("messages");
    e.set("result", result == null ? JSON.nullNode() : result);
    return e;
  }

  private static ObjectNode error(int code, String message) {
    ObjectNode e = envelope(false, null);
    ((ArrayNode) e.get("errors")).add(err(code, message));
    return e;
  }

  private static ObjectNode err(int code, String message) {
    return JSON.createObjectNode().put("code", code).put("message", message);
  }

  private static void send(HttpExchange ex, int status, ObjectNode body) throws IOException {
    byte[] out = JSON.writeValueAsBytes(body);
    ex.getResponseHeaders().set("Content-Type", "application/json");
    ex.sendResponseHeaders(status, out.length);
    ex.getResponseBody().write(out);
  }

  private static String newId() {
    return UUID.randomUUID().toString().replace("-", "");
  }
}
