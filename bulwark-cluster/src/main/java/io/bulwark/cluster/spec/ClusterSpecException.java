package io.bulwark.cluster.spec;

import io.bulwark.core.BulwarkException;

/** A cluster file that cannot be used: the message names the file and the one problem to fix. */
public final class ClusterSpecException extends BulwarkException {
  public ClusterSpecException(String message) {
    super(message);
  }

  public ClusterSpecException(String message, Throwable cause) {
    super(message, cause);
  }
}
