package io.bulwark.dr;

import io.bulwark.core.BulwarkException;

/**
 * Root of the exceptions the disaster-recovery module throws on purpose: a backup, archive, restore
 * or verification that cannot go on. Messages name the object, file or time involved and what to do.
 */
public class DrException extends BulwarkException {
  public DrException(String message) {
    super(message);
  }

  public DrException(String message, Throwable cause) {
    super(message, cause);
  }
}
