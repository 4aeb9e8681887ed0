package io.bulwark.cluster.lease;

import io.bulwark.core.BulwarkException;

/** The lease store could not be reached, or did not answer in time: nothing is known about the lease. */
public final class LeaseStoreUnavailableException extends BulwarkException {
  public LeaseStoreUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
