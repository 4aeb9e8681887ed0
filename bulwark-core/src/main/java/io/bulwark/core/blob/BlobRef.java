package io.bulwark.core.blob;

import java.util.Objects;

/**
 * What the database keeps about a stored blob: where it is, how long it is and its SHA-256 (lower
 * case hex). Reads verify the checksum against this record, not against anything the store says.
 */
public record BlobRef(String key, long size, String sha256) {
  public BlobRef {
    BlobStore.validateKey(key);
    if (size < 0) throw new IllegalArgumentException("blob size cannot be negative: " + size);
    Objects.requireNonNull(sha256, "sha256");
    if (!sha256.matches("[0-9a-f]{64}")) {
      throw new IllegalArgumentException("sha256 must be 64 lower-case hex characters, got: " + sha256);
    }
  }
}
