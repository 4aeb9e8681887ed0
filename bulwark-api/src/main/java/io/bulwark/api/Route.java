package io.bulwark.api;

/**
 * One route of the HTTP API, as data: its method and path pattern, the name its metrics carry, who
 * may call it, and what runs. A pattern's segments are literal or {@code {id}} (any one segment,
 * handed to the handler). The table of them is {@link ApiRoutes#ROUTES}'s, in one place.
 */
record Route(String method, String pattern, String name, Access access, Handler handler, String[] segments) {

  Route(String method, String pattern, String name, Access access, Handler handler) {
    this(method, pattern, name, access, handler, pattern.split("/", -1));
  }

  /** Who may call a route; checked before its method, so that a stranger learns nothing of it. */
  enum Access {
    /** Anyone: health probes. */
    PUBLIC,
    /** A scrape from this host straight to the server's port, or an admin key (the handler checks). */
    METRICS,
    /** A tenant's key, within the tenant's bounds ({@link TenantLimits}). */
    TENANT,
    /** An admin key, within its tenant's bounds. */
    ADMIN
  }

  @FunctionalInterface
  interface Handler {
    /** Handles the request; {@code id} is the pattern's {@code {id}} segment, or null. */
    void handle(Exchange ex, String id);
  }

  /**
   * The path's {@code {id}} segment if the path (split on "/") matches this route's pattern, "" for a
   * pattern without one; null if it does not match.
   */
  String match(String[] path) {
    if (segments.length != path.length) return null;
    String id = "";
    for (int i = 0; i < segments.length; i++) {
      if (segments[i].equals("{id}")) id = path[i];
      else if (!segments[i].equals(path[i])) return null;
    }
    return id;
  }
}
