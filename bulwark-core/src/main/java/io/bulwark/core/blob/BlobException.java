package io.bulwark.core.blob;

import io.bulwark.core.BulwarkException;

/** A blob could not be written or read. */
public class BlobException extends BulwarkException {
  public BlobException(String message) {
    super(message);
  }

  public BlobException(String message, Throwable cause) {
    super(message, cause);
  }

  /** The key names no blob. */
  public static final class NotFound extends BlobException {
    public NotFound(String store, String key) {
      super("blob '" + key + "' does not exist in " + store);
    }
  }

  /** The bytes stored under a key no longer match the checksum the database recorded. */
  public static final class Corrupt extends BlobException {
    public Corrupt(String store, String key, String expected, String actual) {
      super(
          "blob '" + key + "' in " + store + " is corrupt: expected sha256 " + expected + " but read "
              + actual + "; restore it from a replica or backup");
    }
  }

  /** The store cannot be reached now (connection refused, no answer, unknown host): the same call may work later. */
  public static final class Unavailable extends BlobException {
    public Unavailable(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
