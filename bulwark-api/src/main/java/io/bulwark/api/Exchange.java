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
    bodyRead = true;
    long declared = request.getLength();
    if (declared > max) throw tooLarge(declared, max);
    try (InputStream in = Content.Source.asInputStream(request)) {
      byte[] data = in.readNBytes((int) Math.min(max + 1, Integer.MAX_VALUE - 8));
      if (data.length > max) throw tooLarge(-1, max);
      bytesIn = data.length;
      return data;
    } catch (IOException e) {
      throw ApiProblem.badRequest("could not read the request body: " + e.getMessage());
    }
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
    // A refusal before (or instead of) reading the request's body: the server will not read the rest
    // of it, so the connection cannot carry another request. Say so, or a client reusing the
    // connection races its close and sees no response at all (the JDK client: "received no bytes").
    boolean hasBody = request.getLength() > 0 || request.getHeaders().contains(HttpHeader.TRANSFER_ENCODING);
    if (hasBody && (!bodyRead || p.status() == 413)) header("Connection", "close");
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
