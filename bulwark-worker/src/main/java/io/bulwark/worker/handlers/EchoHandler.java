package io.bulwark.worker.handlers;

import io.bulwark.core.handler.TaskContext;
import io.bulwark.core.handler.TaskHandler;
import io.bulwark.core.handler.TaskResult;

/** Result = input, byte for byte, with the input's content type. */
public final class EchoHandler implements TaskHandler {
  @Override
  public String type() {
    return "echo";
  }

  @Override
  public TaskResult handle(TaskContext context) {
    return new TaskResult(context.input(), context.inputContentType());
  }
}
