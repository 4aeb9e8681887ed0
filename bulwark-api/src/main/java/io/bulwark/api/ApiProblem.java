package io.bulwark.api;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An RFC 9457 problem to answer with: thrown anywhere in request handling and written as
 * {@code application/problem+json}. {@code type} is a slug under {@value #TYPE_BASE}.
 */
public final class ApiProblem extends RuntimeException {
  public static final String TYPE_BASE = "https://bulwark.dev/problems/";

  private final int status;
  private final String slug;
  private final String title;
  private final Map<String, Object> extra = new LinkedHashMap<>();
  private int retryAfterSeconds;

  public ApiProblem(int status, String slug, String title, String detail) {
    super(detail, null, false, false);
    this.status = status;
    this.slug = slug;
    this.title = title;
  }

  public ApiProblem with(String field, Object value) {
    extra.put(field, value);
    return this;
  }

  /** Sets the Retry-After of a 429 or 503 (otherwise 1 s for a 429, 2 s for a 503). */
  public ApiProblem retryAfter(int seconds) {
    this.retryAfterSeconds = seconds;
    return this;
  }

  int retryAfterSeconds() {
    return retryAfterSeconds > 0 ? retryAfterSeconds : status == 503 ? 2 : status == 429 ? 1 : 0;
  }

  public int status() {
    return status;
  }

  public String type() {
    return TYPE_BASE + slug;
  }

  public String title() {
    return title;
  }

  public String detail() {
    return getMessage();
  }

  public Map<String, Object> extra() {
    return extra;
  }

  public static ApiProblem badRequest(String detail) {
    return new ApiProblem(400, "malformed-request", "Malformed request", detail);
  }

  /** 422 naming the offending field. */
  public static ApiProblem invalidField(String field, String detail) {
    return new ApiProblem(422, "invalid-field", "Invalid field value", detail).with("field", field);
  }

  public static ApiProblem notFound(String detail) {
    return new ApiProblem(404, "not-found", "Not found", detail);
  }

  public static ApiProblem conflict(String slug, String detail) {
    return new ApiProblem(409, slug, "Conflict", detail);
  }

  public static ApiProblem unauthorized(String detail) {
    return new ApiProblem(401, "unauthorized", "Unauthorized", detail);
  }

  public static ApiProblem unavailable(String detail) {
    return new ApiProblem(503, "unavailable", "Service unavailable", detail);
  }
}
