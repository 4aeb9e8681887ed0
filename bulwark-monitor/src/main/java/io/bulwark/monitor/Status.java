package io.bulwark.monitor;

/** A check's state, Nagios's four, in the order of its plugin exit codes (0 OK … 3 UNKNOWN). */
public enum Status {
  OK, WARNING, CRITICAL, UNKNOWN;

  /** The Nagios plugin exit code. */
  public int exitCode() {
    return ordinal();
  }

  public boolean ok() {
    return this == OK;
  }
}
