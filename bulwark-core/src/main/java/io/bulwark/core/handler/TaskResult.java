package io.bulwark.core.handler;

import java.nio.charset.StandardCharsets;
import java.util.Objects;

/** A handler's output. JSON results appear in the task object; any result is served raw by /result. */
public record TaskResult(byte[] data, String contentType) {
  public static final String JSON = "application/json";

  /** The empty JSON result ({@code null}). */
  public static final TaskResult NONE = json("null");

  public TaskResult {
    Objects.requireNonNull(data, "result data");
    Objects.requireNonNull(contentType, "result content type");
  }

  public static TaskResult json(String jsonText) {
    return new TaskResult(jsonText.getBytes(StandardCharsets.UTF_8), JSON);
  }

  public static TaskResult binary(byte[] data, String contentType) {
    return new TaskResult(data, contentType);
  }

  public boolean isJson() {
    return contentType.startsWith(JSON);
  }
}
