package io.bulwark.gateway;

import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * The gateway's own error answers, {@code application/problem+json} (RFC 9457), in the API's shape:
 * {@code {"type":"https://bulwark.dev/problems/<slug>","title","status","detail","instance"}}, plus
 * the {@code requestId} when there is one.
 */
final class Problems {
  static final String TYPE_PREFIX = "https://bulwark.dev/problems/";
  static final String CONTENT_TYPE = "application/problem+json";
  /** Seconds a client should wait before trying again after a 503 (no server usable: a failover takes about that). */
  static final int RETRY_AFTER_SECONDS = 1;
  /**
   * Retry-After of a connection over the gateway's connection limits: connections are held for long
   * (keep-alive, long polls), so a place is rarely free a second later.
   */
  static final int CONNECTIONS_RETRY_AFTER_SECONDS = 5;

  private Problems() {}

  /** A problem the gateway answers with; {@code retryAfterSeconds} &gt; 0 is sent as Retry-After. */
  record Problem(int status, String slug, String title, String detail, int retryAfterSeconds) {
    Problem(int status, String slug, String title, String detail) {
      this(status, slug, title, detail, status == 503 ? RETRY_AFTER_SECONDS : 0);
    }
  }

  static Problem noServer() {
    return new Problem(503, "no-server-available", "No server available",
        "no API server is ready and healthy right now; try again shortly");
  }

  static Problem tooManyConnections(GatewayConfig.ConnectionLimits limits) {
    return new Problem(503, "too-many-connections", "Too many connections",
        "the gateway holds its most connections (" + limits.total() + " in all, " + limits.perClient()
            + " from one address); reuse a keep-alive connection, or try again after Retry-After", CONNECTIONS_RETRY_AFTER_SECONDS);
  }

  static Problem connectFailed(String backend) {
    return new Problem(503, "no-server-available", "No server available",
        "could not connect to " + backend + " and no other server is usable; the request was not sent, so it is safe to try again");
  }

  static Problem upstreamBroke(String backend, boolean replayed, boolean replayable) {
    String detail = "the connection to " + backend + " broke before it answered"
        + (replayable ? "" : "; the request may have been processed, so it was not replayed (send an Idempotency-Key header to make retries safe)")
        + (replayed ? "; the retry failed too" : "");
    return new Problem(502, "bad-gateway", "Bad gateway", detail);
  }

  static Problem upstreamBrokeMidResponse(String backend) {
    return new Problem(502, "bad-gateway", "Bad gateway", "the connection to " + backend + " broke while it was answering");
  }

  static Problem timeout(String backend, long millis) {
    return new Problem(504, "gateway-timeout", "Gateway timeout", backend + " did not answer within " + millis + " ms");
  }

  static Problem bodyTooLarge(long declared, long max) {
    return new Problem(413, "body-too-large", "Request body too large",
        (declared > 0 ? "body of " + declared + " bytes exceeds" : "body exceeds") + " the limit of " + max
            + " bytes; store larger inputs elsewhere and pass a reference");
  }

  static Problem bodyUnreadable(Throwable cause) {
    boolean timeout = cause instanceof java.util.concurrent.TimeoutException;
    return timeout
        ? new Problem(408, "request-timeout", "Request timeout", "the request body did not arrive in time")
        : new Problem(400, "malformed-request", "Malformed request", "could not read the request body: " + cause.getMessage());
  }

  static byte[] json(Problem p, String instance, String requestId) {
    StringBuilder out = new StringBuilder(256).append('{');
    Json.field(out, "type", TYPE_PREFIX + p.slug()).append(',');
    Json.field(out, "title", p.title()).append(',');
    Json.field(out, "status", p.status()).append(',');
    Json.field(out, "detail", p.detail()).append(',');
    Json.field(out, "instance", instance);
    if (requestId != null) Json.field(out.append(','), "requestId", requestId);
    return out.append('}').toString().getBytes(StandardCharsets.UTF_8);
  }

  /** {@code p} as a whole response to a client speaking {@code version}. */
  static FullHttpResponse response(HttpVersion version, Problem p, String instance, String requestId) {
    byte[] body = json(p, instance, requestId);
    FullHttpResponse r = new DefaultFullHttpResponse(version, HttpResponseStatus.valueOf(p.status()), Unpooled.wrappedBuffer(body));
    HttpHeaders h = r.headers();
    h.set(ForwardedHeaders.CONTENT_TYPE, CONTENT_TYPE);
    h.setInt(ForwardedHeaders.CONTENT_LENGTH, body.length);
    h.set(ForwardedHeaders.CACHE_CONTROL, "no-store");
    if (p.retryAfterSeconds() > 0) h.setInt(ForwardedHeaders.RETRY_AFTER, p.retryAfterSeconds());
    if (requestId != null) h.set(ForwardedHeaders.X_REQUEST_ID, requestId);
    return r;
  }

  /** Writes {@code p} as the whole response (the admin API's Jetty server). */
  static void send(Response response, Callback callback, Problem p, String instance, String requestId) {
    byte[] body = json(p, instance, requestId);
    response.setStatus(p.status());
    var headers = response.getHeaders();
    headers.put(HttpHeader.CONTENT_TYPE, CONTENT_TYPE);
    headers.put(HttpHeader.CONTENT_LENGTH, body.length);
    headers.put(HttpHeader.CACHE_CONTROL, "no-store");
    if (p.retryAfterSeconds() > 0) headers.put(HttpHeader.RETRY_AFTER, p.retryAfterSeconds());
    response.write(true, ByteBuffer.wrap(body), callback);
  }
}
