package io.bulwark.worker.handlers;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.bulwark.core.handler.TaskContext;
import io.bulwark.core.handler.TaskHandler;
import io.bulwark.core.handler.TaskResult;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;

/**
 * Result {@code {"sha256": "<hex>"}} of: a JSON string input's UTF-8 bytes (so {@code "hello"} hashes
 * {@code hello}); any other JSON input's text; a binary input's raw bytes.
 */
public final class Sha256Handler implements TaskHandler {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Override
  public String type() {
    return "sha256";
  }

  @Override
  public TaskResult handle(TaskContext context) throws Exception {
    byte[] data = context.input();
    if (context.inputIsJson()) {
      JsonNode node = JSON.readTree(data);
      if (node.isTextual()) data = node.textValue().getBytes(StandardCharsets.UTF_8);
    }
    String hex = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    return TaskResult.json("{\"sha256\":\"" + hex + "\"}");
  }
}
