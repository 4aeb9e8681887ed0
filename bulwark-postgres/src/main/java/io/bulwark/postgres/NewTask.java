package io.bulwark.postgres;

import io.bulwark.core.blob.BlobRef;
import java.time.Instant;
import java.util.UUID;

/**
 * A task to insert. Exactly one of {@code inputJson} and {@code inputBlob} is set. {@code runAt} null
 * means now (database clock). {@code idempotencyKey} and {@code requestHash} go together or not at all.
 */
public record NewTask(
    UUID id,
    String tenant,
    String type,
    int priority,
    int maxAttempts,
    int timeoutSeconds,
    Instant runAt,
    String inputJson,
    BlobRef inputBlob,
    String inputContentType,
    String idempotencyKey,
    byte[] requestHash) {}
