package io.bulwark.core.handler;

import java.nio.charset.StandardCharsets;
import java.util.UUID;

/** What a handler knows about the attempt it is running. */
public interface TaskContext {
  UUID taskId();

  String tenant();

  String type();

  /** 1 for the first attempt. */
  int attempt();

  /** The input's bytes: the JSON text for a JSON input, the raw body for a binary one. */
  byte[] input();

  /** Content type of {@link #input()}: {@code application/json} for JSON inputs. */
  String inputContentType();

  default boolean inputIsJson() {
    return inputContentType().startsWith("application/json");
  }

  default String inputAsString() {
    return new String(input(), StandardCharsets.UTF_8);
  }

  /** True once the task was cancelled or timed out; long handlers should check it or honour interrupts. */
  boolean isCancelled();
}
