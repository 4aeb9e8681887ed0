package io.bulwark.core.handler;

/**
 * Runs one type of task. Implementations are found with {@link java.util.ServiceLoader} (list them
 * in {@code META-INF/services/io.bulwark.core.handler.TaskHandler}), from the class path and from jars
 * in the data directory's {@code handlers/} folder.
 *
 * <p>A handler runs on a virtual thread. It should be idempotent: execution is at-least-once, and a
 * task whose worker died mid-run runs again. It should honour interruption: a task that exceeds its
 * timeout, or is cancelled, is interrupted. Whatever it throws counts as a failed attempt and is
 * retried with backoff; it can never stall the worker.
 */
public interface TaskHandler {

  /** The task type this handler runs, e.g. {@code sha256}: lower case, digits, '.', '_' or '-'. */
  String type();

  TaskResult handle(TaskContext context) throws Exception;
}
