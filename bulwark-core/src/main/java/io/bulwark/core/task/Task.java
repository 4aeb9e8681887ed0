package io.bulwark.core.task;

import io.bulwark.core.blob.BlobRef;
import java.time.Instant;
import java.util.UUID;

/**
 * A task as stored. {@code resultJson} holds a JSON result of up to {@link
 * TaskLimits#INLINE_LIMIT_BYTES}; a larger or binary result is in blob storage at {@code resultBlob}.
 */
public record Task(
    UUID id,
    String tenant,
    String type,
    TaskState state,
    int attempts,
    int maxAttempts,
    int priority,
    int timeoutSeconds,
    Instant runAt,
    Instant createdAt,
    Instant startedAt,
    Instant finishedAt,
    String resultJson,
    BlobRef resultBlob,
    String resultContentType,
    String error) {

  public boolean hasResult() {
    return resultJson != null || resultBlob != null;
  }
}
