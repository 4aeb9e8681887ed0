package io.bulwark.postgres;

import io.bulwark.core.task.Task;

/** What happened to one {@link NewTask} of a submission. */
public sealed interface SubmitOutcome {
  /** The task was inserted now. */
  record Created(Task task) implements SubmitOutcome {}

  /** The idempotency key was seen before with the same request: this is the original task. */
  record Replayed(Task task) implements SubmitOutcome {}

  /** The idempotency key was seen before with a different request; nothing was stored. */
  record KeyConflict(String idempotencyKey) implements SubmitOutcome {}
}
