package io.bulwark.worker.handlers;

import io.bulwark.core.handler.TaskContext;
import io.bulwark.core.handler.TaskHandler;
import io.bulwark.core.handler.TaskResult;

/** Does nothing; result {@code null}. For benchmarks of the queue itself. */
public final class NoopHandler implements TaskHandler {
  @Override
  public String type() {
    return "noop";
  }

  @Override
  public TaskResult handle(TaskContext context) {
    return TaskResult.NONE;
  }
}
