package io.bulwark.gateway;

import java.util.Locale;

/** What the health checks (and failed live requests) say about a server. */
public enum Health {
  UP,
  DOWN;

  /** The lower-case name used in the admin API. */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }
}
