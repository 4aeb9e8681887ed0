package io.bulwark.core.blob;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Durable storage of byte blobs under string keys. Task inputs and results too large for a database
 * row live here, and the database row keeps the {@link BlobRef}.
 *
 * <p>Contract (checked by {@code BlobStoreContractTest} for every backend):
 *
 * <ul>
 *   <li>{@link #put} is atomic and durable: when it returns, a crash cannot leave a partial blob,
 *       and a reader sees either the old blob or the new one.
 *   <li>{@link #get} and {@link #open} verify the bytes against {@link BlobRef#sha256()} and throw
 *       {@link BlobException.Corrupt} on a mismatch, {@link BlobException.NotFound} for a missing key.
 *   <li>Keys are validated by {@link #validateKey}: relative, '/'-separated, no '.' or '..' segments.
 * </ul>
 */
public interface BlobStore extends AutoCloseable {

  int MAX_KEY_LENGTH = 512;

  /** Longest '/'-separated segment: 255 bytes is the file-name limit of common filesystems. */
  int MAX_SEGMENT_LENGTH = 255;

  Pattern SEGMENT = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9._=-]*");

  /** Stores the stream's bytes under key, replacing any blob there; returns size and checksum. */
  BlobRef put(String key, InputStream data);

  default BlobRef put(String key, byte[] data) {
    return put(key, new ByteArrayInputStream(data));
  }

  /** Reads the whole blob, verified against ref's checksum. */
  byte[] get(BlobRef ref);

  /** Streams the blob; the stream throws {@link BlobException.Corrupt} at end of data on mismatch. */
  InputStream open(BlobRef ref);

  boolean exists(String key);

  /** Deletes the blob if present; returns whether it was there. */
  boolean delete(String key);

  /** Keys starting with prefix, in lexicographic order. */
  List<String> list(String prefix);

  /** A short description for logs and error messages, e.g. {@code fs:/var/lib/bulwark/blobs}. */
  String describe();

  @Override
  default void close() {}

  /** Rejects keys that are empty, absolute, too long, or that could escape the store's root. */
  static void validateKey(String key) {
    if (key == null || key.isEmpty()) throw new IllegalArgumentException("blob key is empty");
    if (key.length() > MAX_KEY_LENGTH) {
      throw new IllegalArgumentException(
          "blob key is " + key.length() + " characters; the limit is " + MAX_KEY_LENGTH);
    }
    for (String segment : key.split("/", -1)) {
      if (segment.length() > MAX_SEGMENT_LENGTH) {
        throw new IllegalArgumentException("invalid blob key '" + key + "': a segment is " + segment.length()
            + " characters; the limit is " + MAX_SEGMENT_LENGTH);
      }
      if (!SEGMENT.matcher(segment).matches()) {
        throw new IllegalArgumentException(
            "invalid blob key '" + key + "': each '/'-separated segment must match "
                + SEGMENT.pattern() + " (no empty, '.' or '..' segments, no leading '/')");
      }
    }
  }
}
