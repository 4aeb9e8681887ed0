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
    byte[] requestHash) {
  /** Bytes this task's input keeps stored (in blob storage, or inline in its row): what counts against a storage quota. */
  public long storedBytes() {
    if (inputBlob != null) return inputBlob.size();
    return inputJson == null ? 0 : utf8Length(inputJson);
  }

  static long utf8Length(String s) {
    long n = 0;
    for (int i = 0; i < s.length(); i++) {
      char ch = s.charAt(i);
      if (ch < 0x80) n++;
      else if (ch < 0x800) n += 2;
      else if (Character.isHighSurrogate(ch) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
        n += 4;
        i++;
      } else n += 3;
    }
    return n;
  }
}
