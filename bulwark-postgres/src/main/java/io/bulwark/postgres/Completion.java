package io.bulwark.postgres;

import io.bulwark.core.blob.BlobRef;
import java.time.Duration;

/** The outcome of one attempt, written back by {@link TaskQueue#complete}. */
public sealed interface Completion {
  ClaimedTask task();

  /** Succeeded; exactly one of resultJson and resultBlob is set. */
  record Success(ClaimedTask task, String resultJson, BlobRef resultBlob, String contentType) implements Completion {}

  /**
   * Failed. The task is retried after {@code retryDelay} while attempts remain, else it is dead;
   * {@code permanent} makes it dead at once.
   */
  record Failure(ClaimedTask task, String error, Duration retryDelay, boolean permanent) implements Completion {}

  /** Handed back unfinished (graceful shutdown): queued again, and this attempt is not counted. */
  record Release(ClaimedTask task) implements Completion {}
}
