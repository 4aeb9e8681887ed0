package io.bulwark.worker.handlers;

import io.bulwark.core.handler.TaskContext;
import io.bulwark.core.handler.TaskHandler;
import io.bulwark.core.handler.TaskResult;

/** Always throws: every attempt fails, so the task retries with backoff and then is dead. */
public final class FailHandler implements TaskHandler {
  @Override
  public String type() {
    return "fail";
  }

  @Override
  public TaskResult handle(TaskContext context) {
    throw new IllegalStateException("the fail handler always fails (attempt " + context.attempt() + ")");
  }
}
