package io.bulwark.gateway;

import io.bulwark.core.BulwarkException;
import java.util.Locale;

/**
 * What an operator wants a server to do (HAProxy's admin states).
 *
 * <ul>
 *   <li>{@link #READY}: takes new requests while its health is {@link Health#UP}.
 *   <li>{@link #DRAIN}: takes no new requests; requests already in flight finish.
 *   <li>{@link #MAINT}: takes no requests; health checks go on but don't matter.
 * </ul>
 */
public enum ServerState {
  READY,
  DRAIN,
  MAINT;

  /** The lower-case name used in the admin API and in metrics. */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** Parses {@code ready}, {@code drain} or {@code maint}, in any case. */
  public static ServerState parse(String s) {
    if (s != null) {
      for (ServerState state : values()) {
        if (state.name().equalsIgnoreCase(s.strip())) return state;
      }
    }
    throw new BulwarkException("server state must be ready, drain or maint, got '" + s + "'");
  }
}
