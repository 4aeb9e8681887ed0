package io.bulwark.dns;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the record in a Cloudflare zone, through the DNS records API v4 ({@code apiBase}, normally
 * {@code https://api.cloudflare.com/client/v4}) with an API token sent as {@code Authorization: Bearer}.
 * The token needs Zone.DNS:Edit on the zone; it never appears in a message, a log line or {@link #toString()}.
 *
 * <p>What each method asks of Cloudflare:
 * <ul>
 *   <li>{@link #current()}: {@code GET /zones/{zone}/dns_records?type=T&name=N}; the first record's content, empty when
 *       there is none of that type (records of other types at the name do not count).
 *   <li>{@link #point}: the same list, then {@code PATCH /zones/{zone}/dns_records/{id}} with
 *       {@code {type, name, content, ttl, proxied}}, or {@code POST /zones/{zone}/dns_records} when the record does not
 *       exist; nothing when it already has that content, ttl and proxy flag. The ttl is the record's, in seconds (a
 *       ttl of 1 s means "automatic" to Cloudflare, and it refuses 2 to 59 s outside Enterprise plans); a proxied
 *       record is sent with ttl 1, as Cloudflare ignores its ttl. Nothing is ever deleted: should the name hold
 *       several records of the type, the first is changed and a warning names the others.
 *   <li>{@link #validate()}: {@code GET /zones/{zone}}, whose {@code name} must be the record's zone; the list; then,
 *       when the record exists, a {@code PATCH} giving it back its own content, ttl and proxy flag, a no-op that
 *       proves the token may edit it without changing anything. A missing record is not created ({@link #point}
 *       creates it).
 * </ul>
 *
 * <p>Every answer is Cloudflare's envelope {@code {success, errors: [{code, message}], messages, result}}. HTTP 429
 * and 5xx, timeouts, unreachable hosts and answers that are not such an envelope are {@link DnsUnavailableException}s;
 * {@link #point} and {@link #validate} make {@value #ATTEMPTS} attempts in all (each starting again from the list, so
 * an earlier write that did land is found, never created twice), waiting Cloudflare's {@code Retry-After} (at most
 * 10 s) or else 200 ms, 400 ms, ...; the exception thrown at the end carries the last {@code Retry-After} given.
 * {@link #current()} makes one attempt: its caller polls anyway. A token refused (401, 403, or 400 with an
 * authentication code), an unknown zone (404, or 400 with code 7003 "could not route"), and any other 4xx (invalid
 * content, ttl, a conflicting CNAME) are {@link DnsConfigException}s naming Cloudflare's codes and messages, never
 * retried.
 */
public final class CloudflareProvider implements DnsProvider {
  private static final Logger log = LoggerFactory.getLogger(CloudflareProvider.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Attempts {@link #point} and {@link #validate} make before giving up. */
  static final int ATTEMPTS = 3;
  private static final Duration FIRST_BACKOFF = Duration.ofMillis(200);
  private static final Duration MAX_RETRY_AFTER = Duration.ofSeconds(10);
  /** Cloudflare's codes for a token it does not take: invalid or missing credentials, authentication error. */
  private static final Set<Integer> AUTH_CODES = Set.of(1000, 6003, 6102, 6103, 6111, 9106, 9109, 10000);
  /** "Could not route to ..., perhaps your object identifier is invalid?", "No route for that URI", "Invalid zone identifier". */
  private static final Set<Integer> ROUTE_CODES = Set.of(7000, 7003, 1001);
  /** "Record does not exist." */
  private static final int RECORD_GONE = 81044;
  private static final Pattern ZONE_ID = Pattern.compile("[A-Za-z0-9_-]{1,64}");
  private static final String TOKEN_HINT = "use a current API token (not the Global API Key) with Zone.DNS:Edit on that zone";

  private final URI apiBase;
  private final String base;
  private final String zoneId;
  private final String token;
  private final DnsRecord record;
  private final boolean proxied;
  private final Duration requestTimeout;
  private final HttpClient http;

  public CloudflareProvider(URI apiBase, String zoneId, String token, DnsRecord record, boolean proxied,
      Duration requestTimeout) {
    if (apiBase == null || apiBase.getHost() == null
        || !("https".equalsIgnoreCase(apiBase.getScheme()) || "http".equalsIgnoreCase(apiBase.getScheme()))) {
      throw new DnsConfigException("the Cloudflare API base '" + apiBase + "' is not an http(s) URL; use"
          + " https://api.cloudflare.com/client/v4");
    }
    if (zoneId == null || !ZONE_ID.matcher(zoneId.trim()).matches()) {
      throw new DnsConfigException("the Cloudflare zone id '" + zoneId + "' is not an identifier; give the zone's id (32 hex"
          + " digits, on the zone's Overview page), not its name");
    }
    if (token == null || token.isBlank()) throw new DnsConfigException("the Cloudflare API token is empty");
    if (!token.strip().chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
      throw new DnsConfigException("the Cloudflare API token holds spaces or characters that cannot be sent; give the token"
          + " alone, without 'Bearer'");
    }
    if (record == null) throw new DnsConfigException("no DNS record given for Cloudflare zone " + zoneId.trim());
    if (requestTimeout == null || requestTimeout.isNegative() || requestTimeout.isZero()) {
      throw new DnsConfigException("the Cloudflare request timeout must be positive, got " + requestTimeout);
    }
    this.apiBase = apiBase;
    String b = apiBase.toString();
    this.base = b.endsWith("/") ? b.substring(0, b.length() - 1) : b;
    this.zoneId = zoneId.trim();
    this.token = token.strip();
    this.record = record;
    this.proxied = proxied;
    this.requestTimeout = requestTimeout;
    this.http = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(requestTimeout)
        .followRedirects(HttpClient.Redirect.NEVER)
        .build();
  }

  @Override
  public String describe() {
    return "cloudflare zone " + zoneId + " at " + apiBase.getHost();
  }

  @Override
  public String toString() {
    return describe();
  }

  @Override
  public DnsRecord record() {
    return record;
  }

  @Override
  public void validate() {
    retrying("validate " + describe(), () -> {
      JsonNode zone = call("GET", "/zones/" + zoneId, null, "read zone " + zoneId, "read zone " + zoneId);
      String name = zone.path("name").asText("");
      if (name.isBlank()) throw malformed("GET /zones/" + zoneId, "its result has no zone name");
      if (!DnsRecord.canonical(name).equals(record.zone())) {
        throw new DnsConfigException("Cloudflare zone " + zoneId + " is " + DnsRecord.canonical(name) + ", not " + record.zone()
            + " (the zone of " + record.name() + "); give the id of zone " + record.zone());
      }
      String status = zone.path("status").asText("");
      if (!status.isEmpty() && !status.equals("active")) {
        log.warn("Cloudflare zone {} ({}) is {}, not active: Cloudflare's name servers may not answer for {} yet", zoneId, name,
            status, record.name());
      }
      List<CfRecord> found = list();
      if (found.isEmpty()) {
        log.debug("{} {} does not exist in {} yet; the first point() creates it", record.name(), record.type(), describe());
        return null;
      }
      CfRecord r = found.getFirst();
      try {
        call("PATCH", "/zones/" + zoneId + "/dns_records/" + r.id(), body(r.content(), r.ttl(), r.proxied()),
            "edit DNS records of zone " + zoneId, "rewrite " + record.name() + " " + record.type() + " unchanged");
      } catch (RecordGone e) {
        log.debug("{} {} was deleted at Cloudflare while being validated", record.name(), record.type());
      }
      return null;
    });
  }

  @Override
  public Optional<String> current() {
    return list().stream().findFirst().map(r -> shown(r.content()));
  }

  @Override
  public void point(String target) {
    String content = target == null ? "" : target.strip();
    if (record.type() == DnsRecord.Type.CNAME && content.endsWith(".")) content = content.substring(0, content.length() - 1);
    if (content.isEmpty()) throw new DnsConfigException("cannot point " + record.name() + " at an empty target");
    String to = content;
    retrying("point " + record.name() + " " + record.type() + " at " + to + " in " + describe(), () -> {
      write(list(), to);
      return null;
    });
  }

  @Override
  public void close() {
    http.close();
  }

  /** One record as Cloudflare lists it. */
  private record CfRecord(String id, String content, long ttl, boolean proxied) {}

  /** A PATCH found the record gone (someone deleted it after the list): the next attempt lists again and creates it. */
  private static final class RecordGone extends DnsUnavailableException {
    RecordGone(String message) {
      super(message);
    }
  }

  private void write(List<CfRecord> found, String content) {
    long ttl = proxied ? 1 : record.ttl().toSeconds();
    String edit = "edit DNS records of zone " + zoneId;
    String what = record.name() + " " + record.type();
    if (found.isEmpty()) {
      call("POST", "/zones/" + zoneId + "/dns_records", body(content, ttl, proxied), edit,
          "create " + what + " pointing at " + content);
      log.info("created {} pointing at {} in {}", what, content, describe());
      return;
    }
    CfRecord r = found.getFirst();
    if (found.size() > 1) {
      log.warn("{} has {} records in {}; changing the first ({}) and leaving {}: delete the others by hand if they should"
          + " not be answered", what, found.size(), describe(), r.id(), found.subList(1, found.size()).stream()
          .map(o -> o.id() + " -> " + o.content()).toList());
    }
    if (r.content().equalsIgnoreCase(content) && r.ttl() == ttl && r.proxied() == proxied) return;
    call("PATCH", "/zones/" + zoneId + "/dns_records/" + r.id(), body(content, ttl, proxied), edit,
        "point " + what + " at " + content);
    log.info("pointed {} at {} (was {}) in {}", what, content, r.content(), describe());
  }

  private List<CfRecord> list() {
    String path = "/zones/" + zoneId + "/dns_records?type=" + record.type() + "&name="
        + URLEncoder.encode(record.name(), StandardCharsets.UTF_8) + "&per_page=100";
    JsonNode result = call("GET", path, null, "read DNS records of zone " + zoneId,
        "list the " + record.type() + " records of " + record.name());
    String request = "GET /zones/" + zoneId + "/dns_records";
    if (!result.isArray()) throw malformed(request, "its result is not a list of records");
    List<CfRecord> found = new ArrayList<>();
    for (JsonNode n : result) {
      // the filters should do this already; checked again so another record can never be taken for ours
      if (!n.path("type").asText("").equalsIgnoreCase(record.type().name())) continue;
      if (!DnsRecord.canonical(n.path("name").asText("")).equals(record.name())) continue;
      String id = n.path("id").asText("");
      if (id.isEmpty() || !n.path("content").isTextual()) throw malformed(request, "a record has no id or content");
      found.add(new CfRecord(id, n.path("content").asText(), n.path("ttl").asLong(1), n.path("proxied").asBoolean(false)));
    }
    return found;
  }

  private ObjectNode body(String content, long ttl, boolean proxy) {
    ObjectNode b = JSON.createObjectNode();
    b.put("type", record.type().name());
    b.put("name", record.name());
    b.put("content", content);
    b.put("ttl", ttl);
    b.put("proxied", proxy);
    return b;
  }

  /** A CNAME's target as {@link #current()} gives it: without the trailing dot. */
  private String shown(String content) {
    return record.type() == DnsRecord.Type.CNAME && content.endsWith(".") ? content.substring(0, content.length() - 1) : content;
  }

  /**
   * One request; returns the envelope's {@code result}. {@code access} says what a refused token could not do ("edit DNS
   * records of zone X"), {@code action} what Cloudflare refused ("point api.example.test A at 1.2.3.4").
   */
  private JsonNode call(String method, String path, JsonNode body, String access, String action) {
    String request = method + " " + path.replaceFirst("\\?.*", "");
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path))
        .timeout(requestTimeout)
        .header("Authorization", "Bearer " + token)
        .header("Accept", "application/json");
    if (body == null) {
      b.method(method, HttpRequest.BodyPublishers.noBody());
    } else {
      b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(body.toString()));
    }
    HttpResponse<String> response;
    try {
      response = http.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    } catch (HttpTimeoutException e) {
      throw new DnsUnavailableException("Cloudflare at " + apiBase.getHost() + " did not answer " + request + " within "
          + requestTimeout.toMillis() + " ms", null, e);
    } catch (IOException e) {
      throw new DnsUnavailableException("cannot reach Cloudflare at " + apiBase.getHost() + " for " + request + " ("
          + e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + oneLine(e.getMessage(), 200)) + ")", null, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new DnsUnavailableException("interrupted while waiting for Cloudflare to answer " + request, null, e);
    }
    int status = response.statusCode();
    JsonNode envelope = envelope(response.body());
    String detail = detail(status, envelope);
    if (status == 429) {
      Duration retryAfter = retryAfter(response);
      throw new DnsUnavailableException("Cloudflare is throttling requests (" + detail + ") to " + request
          + (retryAfter == null ? "" : "; it asks to wait " + retryAfter.toSeconds() + " s"), retryAfter, null);
    }
    if (status >= 500) {
      throw new DnsUnavailableException("Cloudflare cannot serve " + request + " now (" + detail + ")", retryAfter(response),
          null);
    }
    if (status >= 200 && status < 300) {
      if (envelope == null) throw malformed(request, "HTTP " + status + " with " + snippet(response.body()));
      if (envelope.get("success").asBoolean()) return envelope.path("result");
    }
    Set<Integer> codes = codes(envelope);
    if (status == 401 || status == 403 || (status == 400 && codes.stream().anyMatch(AUTH_CODES::contains))) {
      throw new DnsConfigException("the Cloudflare token cannot " + access + " (" + detail + "); " + TOKEN_HINT);
    }
    if (status == 404 && codes.contains(RECORD_GONE)) {
      throw new RecordGone("Cloudflare no longer has " + record.name() + " " + record.type() + " (" + detail + ")");
    }
    if (status == 404 || codes.stream().anyMatch(ROUTE_CODES::contains)) {
      String missing = request.contains("/dns_records/") ? "no zone " + zoneId + " or no record "
          + request.replaceFirst(".*/", "") + " in it" : "no zone " + zoneId;
      throw new DnsConfigException("Cloudflare has " + missing + " at " + apiBase.getHost() + " (" + request + ": " + detail
          + "); give the zone's id (32 hex digits, on the zone's Overview page), not its name");
    }
    if ((status >= 400 && status < 500) || (status >= 200 && status < 300)) {
      throw new DnsConfigException("Cloudflare refused to " + action + " in zone " + zoneId + " (" + detail + ")");
    }
    throw new DnsUnavailableException("Cloudflare answered " + request + " with HTTP " + status + ", which it is not expected to"
        + " (" + detail + "); check the API base " + base);
  }

  /** The answer as Cloudflare's envelope, or null when it is not one. */
  private static JsonNode envelope(String body) {
    try {
      JsonNode n = JSON.readTree(body == null ? "" : body);
      return n != null && n.isObject() && n.path("success").isBoolean() ? n : null;
    } catch (JsonProcessingException e) {
      return null;
    }
  }

  private DnsUnavailableException malformed(String request, String what) {
    return new DnsUnavailableException("Cloudflare's answer to " + request + " is not a DNS records API v4 answer (" + what
        + "); check the API base " + base);
  }

  /** "HTTP 403, code 10000: Authentication error", with the error chain in brackets. */
  private static String detail(int status, JsonNode envelope) {
    StringBuilder s = new StringBuilder("HTTP ").append(status);
    if (envelope == null) return s.toString();
    String errors = errors(envelope.path("errors"));
    return errors.isEmpty() ? s.toString() : s.append(", ").append(errors).toString();
  }

  private static String errors(JsonNode errors) {
    List<String> parts = new ArrayList<>();
    for (JsonNode e : errors) {
      String part = "code " + e.path("code").asText("?") + ": " + oneLine(e.path("message").asText(""), 200);
      String chain = errors(e.path("error_chain"));
      parts.add(chain.isEmpty() ? part : part + " (" + chain + ")");
    }
    return String.join("; ", parts);
  }

  private static Set<Integer> codes(JsonNode envelope) {
    Set<Integer> codes = new LinkedHashSet<>();
    if (envelope != null) collect(envelope.path("errors"), codes);
    return codes;
  }

  private static void collect(JsonNode errors, Set<Integer> codes) {
    for (JsonNode e : errors) {
      if (e.path("code").canConvertToInt()) codes.add(e.path("code").asInt());
      collect(e.path("error_chain"), codes);
    }
  }

  /** {@code Retry-After} in seconds or as an HTTP date; null when absent or unreadable. */
  private static Duration retryAfter(HttpResponse<?> response) {
    Optional<String> header = response.headers().firstValue("Retry-After");
    if (header.isEmpty()) return null;
    String v = header.get().trim();
    try {
      return Duration.ofSeconds(Math.max(0, Long.parseLong(v)));
    } catch (NumberFormatException e) {
      try {
        Duration d = Duration.between(Instant.now(), ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME));
        return d.isNegative() ? Duration.ZERO : d;
      } catch (DateTimeParseException e2) {
        return null;
      }
    }
  }

  /** Runs {@code op} up to {@value #ATTEMPTS} times while Cloudflare is unavailable, backing off in between. */
  private <T> T retrying(String what, Supplier<T> op) {
    DnsUnavailableException last = null;
    Duration lastRetryAfter = null;
    for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
      try {
        return op.get();
      } catch (DnsUnavailableException e) {
        last = e;
        if (e.retryAfter().isPresent()) lastRetryAfter = e.retryAfter().get();
        if (attempt == ATTEMPTS) break;
        Duration wait = e.retryAfter()
            .map(d -> d.compareTo(MAX_RETRY_AFTER) > 0 ? MAX_RETRY_AFTER : d)
            .orElse(FIRST_BACKOFF.multipliedBy(1L << (attempt - 1)));
        log.info("could not {} ({}); trying again in {} ms", what, e.getMessage(), wait.toMillis());
        try {
          Thread.sleep(wait);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw new DnsUnavailableException("interrupted while waiting to " + what + " again: " + e.getMessage(), lastRetryAfter,
              e);
        }
      }
    }
    throw new DnsUnavailableException("could not " + what + " in " + ATTEMPTS + " attempts: " + last.getMessage(), lastRetryAfter,
        last);
  }

  private static String snippet(String body) {
    if (body == null || body.isBlank()) return "an empty body";
    return "'" + oneLine(body, 80) + "'";
  }

  private static String oneLine(String text, int max) {
    String t = text.replaceAll("\\s+", " ").strip();
    return t.length() <= max ? t : t.substring(0, max) + "...";
  }
}
