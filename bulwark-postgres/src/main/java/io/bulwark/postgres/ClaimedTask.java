package io.bulwark.postgres;

import io.bulwark.core.blob.BlobRef;
import java.util.UUID;

/**
 * A task a worker holds a lease on. {@code leaseToken} and {@code attempt} together guard every write
 * the worker makes about it: if the lease was lost (rescued, cancelled), the write changes nothing.
 */
public record ClaimedTask(
    UUID id,
    String tenant,
    String type,
    int attempt,
    int maxAttempts,
    int timeoutSeconds,
    UUID leaseToken,
    String inputJson,
    BlobRef inputBlob,
    String inputContentType) {}
