package io.bulwark.api;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Fields;

/** One HTTP request and its response, with the few helpers the routes need. */
final class Exchange {
  static final JsonFactory JSON = new JsonFactory();
  static final String JSON_TYPE = "application/json";

  final Request request;
  final Response response;
  final Callback callback;
  final String method;
  final String path;
  private Fields query;
  long bytesIn;
  long bytesOut;
  int status;
  Principal principal;

  Exchange(Request request, Response response, Callback callback) {
    this.request = request;
    this.response = response;
    this.callback = callback;
    this.method = request.getMethod();
    this.path = Request.getPathInContext(request);
  }

  String header(String name) {
    return request.getHeaders().get(name);
  }

  String query(String name) {
    if (query == null) query = Request.extractQueryParameters(request);
    return query.getValue(name);
  }

  /** A whole-number query parameter from {@code min} to {@code max}, {@code absent} when not given; anything else is 422 naming it. */
  int intQuery(String name, int min, int max, int absent, String what) {
    String v = query(name);
    if (v == null) return absent;
    try {
      int n = Integer.parseInt(v);
      if (n >= min && n <= max) return n;
    } catch (NumberFormatException ignored) {
      // refused below, as an out-of-range value is
    }
    throw ApiProblem.invalidField(name, "'" + name + "' must be " + what + " from " + min + " to " + max);
  }

  /** A UUID query parameter, null when not given; anything else is 422 naming it. */
  java.util.UUID uuidQuery(String name, String what) {
    String v = query(name);
    if (v == null) return null;
    try {
      return java.util.UUID.fromString(v);
    } catch (IllegalArgumentException e) {
      throw ApiProblem.invalidField(name, "'" + name + "' must be " + what);
    }
  }

  /** Reads the body, refusing (413) anything over {@code max} bytes before reading it where the length is declared. */
  byte[] body(long max) {
    long declared = request.getLength();
    if (declared > max) throw tooLarge(declared, max);
    try (InputStream in = Content.Source.asInputStream(request)) {
      byte[] data = in.readNBytes((int) Math.min(max + 1, Integer.MAX_VALUE - 8));
      if (data.length > max) throw tooLarge(-1, max);
      bodyRead = true;
      bytesIn = data.length;
      return data;
    } catch (IOException e) {
      throw ApiProblem.badRequest("could not read the request body: " + e.getMessage());
    }
  }

  /**
   * The body as a stream, never held whole: up to {@code max} bytes (413 before reading where the
   * length is declared, else when the stream passes it), with their SHA-256 (for an idempotency key's
   * request hash) computed as they pass if {@code hashed}. A request whose body is refused before its end closes the
   * connection (see {@link #problem}).
   */
  BodyStream bodyStream(long max, boolean hashed) {
    long declared = request.getLength();
    if (declared > max) throw tooLarge(declared, max);
    streamed = new BodyStream(Content.Source.asInputStream(request), max, hashed);
    return streamed;
  }

  /** The declared body length, or -1 when the body is chunked. */
  long declaredLength() {
    return request.getLength();
  }

  /** A request body read as it arrives; see {@link #bodyStream}. */
  final class BodyStream extends java.io.FilterInputStream {
    private final long max;
    private final java.security.MessageDigest sha256;
    private long count;

    private BodyStream(InputStream in, long max, boolean hashed) {
      super(in);
      this.max = max;
      try {
        this.sha256 = hashed ? java.security.MessageDigest.getInstance("SHA-256") : null;
      } catch (java.security.NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = super.read(b, off, len);
      if (n < 0) {
        bodyRead = true;
        bytesIn = count;
        return n;
      }
      count += n;
      bytesIn = count;
      if (count > max) throw new BodyTooLarge(max);
      if (sha256 != null) sha256.update(b, off, n);
      return n;
    }

    /** Reads what is left (up to the limit), so the digest covers the whole body and the connection can be reused. */
    void drain() throws IOException {
      transferTo(java.io.OutputStream.nullOutputStream());
    }

    /**
     * The request hash of an idempotency key: the body's bytes (read to the end now), then the
     * request's query, as {@link TaskRequests#sha256} makes it; an unreadable rest of the body is its problem.
     */
    byte[] requestHash() {
      if (sha256 == null) throw new IllegalStateException("the body stream was opened without a hash");
      try {
        drain();
      } catch (IOException e) {
        throw unreadable(e);
      }
      String q = request.getHttpURI().getQuery();
      java.security.MessageDigest md;
      try {
        md = (java.security.MessageDigest) sha256.clone();
      } catch (CloneNotSupportedException e) {
        throw new IllegalStateException(e);
      }
      md.update((byte) 0);
      md.update((q == null ? "" : q).getBytes(java.nio.charset.StandardCharsets.UTF_8));
      md.update((byte) 0);
      return md.digest();
    }

    long count() {
      return count;
    }
  }

  /** The most of a refused request's body read and dropped to keep its connection: the API's default body limit. */
  static final long DRAIN_LIMIT = 16L * 1024 * 1024;

  /** Reads what is left of the body (up to {@link #DRAIN_LIMIT}) and drops it; marks it read if it got to the end. */
  private void drainBody() {
    if (request.getLength() > DRAIN_LIMIT) return;
    try {
      InputStream in = streamed != null ? streamed : Content.Source.asInputStream(request);
      byte[] buf = new byte[16 * 1024];
      long total = 0;
      for (int n; (n = in.read(buf)) >= 0; ) {
        total += n;
        if (total > DRAIN_LIMIT) return;
      }
      bodyRead = true;
    } catch (IOException e) {
      // the client went away, or the body passed its limit: the connection closes
    }
  }

  /** The body stream handed out, if any: a drain goes on from where it stopped. */
  private BodyStream streamed;

  /** The body passed its limit while being read: answered 413. */
  static final class BodyTooLarge extends IOException {
    final long max;

    BodyTooLarge(long max) {
      super("body exceeds " + max + " bytes");
      this.max = max;
    }
  }

  /** The problem a failure to read a streamed body is. */
  static ApiProblem unreadable(IOException e) {
    if (e instanceof BodyTooLarge t) return tooLarge(-1, t.max);
    return ApiProblem.badRequest("could not read the request body: " + e.getMessage());
  }

  private static ApiProblem tooLarge(long declared, long max) {
    return new ApiProblem(413, "body-too-large", "Request body too large",
        (declared > 0 ? "body of " + declared + " bytes exceeds" : "body exceeds") + " the limit of " + max
            + " bytes; store larger inputs elsewhere and pass a reference");
  }

  private boolean bodyRead;

  void send(int status, String contentType, byte[] data) {
    this.status = status;
    this.bytesOut = data.length;
    response.setStatus(status);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, contentType);
    response.getHeaders().put(HttpHeader.CONTENT_LENGTH, data.length);
    response.write(true, ByteBuffer.wrap(data), callback);
  }

  void sendEmpty(int status) {
    this.status = status;
    response.setStatus(status);
    response.getHeaders().put(HttpHeader.CONTENT_LENGTH, 0);
    response.write(true, null, callback);
  }

  void header(String name, String value) {
    response.getHeaders().put(name, value);
  }

  /** Writes a JSON body produced by {@code writer} into a buffer, then sends it. */
  void json(int status, JsonWriter writer) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(512);
    try (JsonGenerator g = JSON.createGenerator(out)) {
      writer.write(g);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    send(status, JSON_TYPE, out.toByteArray());
  }

  void problem(ApiProblem p) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(256);
    try (JsonGenerator g = JSON.createGenerator(out)) {
      g.writeStartObject();
      g.writeStringField("type", p.type());
      g.writeStringField("title", p.title());
      g.writeNumberField("status", p.status());
      g.writeStringField("detail", p.detail());
      g.writeStringField("instance", path);
      for (Map.Entry<String, Object> e : p.extra().entrySet()) {
        g.writeFieldName(e.getKey());
        g.writeObject(e.getValue() instanceof Iterable<?> it ? String.join(", ", (Iterable<String>) it) : e.getValue());
      }
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    if (p.retryAfterSeconds() > 0) header("Retry-After", Integer.toString(p.retryAfterSeconds()));
    // A refusal before (or instead of) reading all of the request's body. A body within the limit is
    // read to its end and dropped, so the connection stays usable: a connection closed under a proxy
    // still sending the body (the gateway, HAProxy) breaks its write, and the proxy takes that for a
    // failed server. Past the limit the rest is not read, and the connection cannot carry another
    // request: say so, or a client reusing it races its close and sees no response at all.
    boolean hasBody = request.getLength() > 0 || request.getHeaders().contains(HttpHeader.TRANSFER_ENCODING);
    if (hasBody && !bodyRead && !p.type().endsWith("/body-too-large")) drainBody();
    if (hasBody && !bodyRead) header("Connection", "close");
    if (p.status() == 401) header("WWW-Authenticate", "Bearer"); // required on every 401 (RFC 9110, 11.6.1)
    send(p.status(), "application/problem+json", out.toByteArray());
  }

  static String utf8(byte[] b) {
    return new String(b, StandardCharsets.UTF_8);
  }

  @FunctionalInterface
  interface JsonWriter {
    void write(JsonGenerator g) throws IOException;
  }

  /** The authenticated caller. */
  record Principal(String keyId, String tenant, boolean admin) {}
}
