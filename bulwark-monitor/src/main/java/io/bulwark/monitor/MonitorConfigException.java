package io.bulwark.monitor;

import io.bulwark.core.BulwarkException;

/** The monitor's policy file, or a setting in it, is not usable: the message names the problem in one line. */
public final class MonitorConfigException extends BulwarkException {
  public MonitorConfigException(String message) {
    super(message);
  }

  public MonitorConfigException(String message, Throwable cause) {
    super(message, cause);
  }
}
