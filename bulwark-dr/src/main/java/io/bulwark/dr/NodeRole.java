package io.bulwark.dr;

import java.util.Locale;

/** What a database node currently is, as the failover controller sees it. */
public enum NodeRole {
  /** Accepts writes. */
  PRIMARY,
  /** Streams WAL from the primary; read-only. */
  STANDBY,
  /** Being rebuilt from a fresh base backup of the primary. */
  REBUILDING,
  /** Not running: crashed, fenced, or waiting for a restart. */
  DOWN;

  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }
}
