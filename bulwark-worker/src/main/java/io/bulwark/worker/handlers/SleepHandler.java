package io.bulwark.worker.handlers;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.bulwark.core.handler.TaskContext;
import io.bulwark.core.handler.TaskHandler;
import io.bulwark.core.handler.TaskResult;

/** Sleeps {@code {"ms": N}} milliseconds (interruptibly), then returns {@code {"slept": N}}. For tests and drills. */
public final class SleepHandler implements TaskHandler {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Override
  public String type() {
    return "sleep";
  }

  @Override
  public TaskResult handle(TaskContext context) throws Exception {
    JsonNode ms = context.inputIsJson() ? JSON.readTree(context.input()).get("ms") : null;
    if (ms == null || !ms.canConvertToLong() || ms.asLong() < 0) {
      throw new IllegalArgumentException("sleep input must be {\"ms\": <non-negative integer>}");
    }
    Thread.sleep(ms.asLong());
    return TaskResult.json("{\"slept\":" + ms.asLong() + "}");
  }
}
