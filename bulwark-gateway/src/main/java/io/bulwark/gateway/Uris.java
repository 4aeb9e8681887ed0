package io.bulwark.gateway;

import org.eclipse.jetty.http.HttpURI;
import org.eclipse.jetty.http.UriCompliance;

/**
 * Request targets as the gateway sees them. Checked with the same parser and rules as the API
 * server (Jetty's {@link HttpURI}, {@link UriCompliance#DEFAULT}), so a target the API would refuse
 * as ambiguous (an encoded {@code /} or {@code ..}, say) is refused here and never reaches it.
 */
final class Uris {
  private Uris() {}

  /** Why the API server would refuse {@code target}, or null if it would not. */
  static String violation(String target) {
    if (target.isEmpty()) return "empty request target";
    if (isPlain(target)) return null; // the common case: nothing to decode, nothing ambiguous
    HttpURI uri;
    try {
      uri = HttpURI.from(target);
    } catch (IllegalArgumentException e) {
      return "malformed request target: " + e.getMessage();
    }
    if (uri.getPath() == null) return "request target has no path";
    for (UriCompliance.Violation v : uri.getViolations()) {
      if (!UriCompliance.DEFAULT.allows(v)) return "ambiguous request target (" + v.getDescription() + ")";
    }
    return null;
  }

  /** An origin-form target with only characters that need no decoding and no dot segments. */
  private static boolean isPlain(String target) {
    if (target.charAt(0) != '/') return false;
    int q = target.indexOf('?');
    int end = q < 0 ? target.length() : q;
    char prev = 0;
    for (int i = 0; i < end; i++) {
      char c = target.charAt(i);
      if (c == '%' || c == '\\' || c == ';' || c < 0x21 || c > 0x7e) return false;
      if (c == '.' && prev == '/') return false; // "/." or "/.." somewhere
      if (c == '/' && prev == '/') return false; // empty segment
      prev = c;
    }
    return true;
  }

  /** The target as sent upstream: origin-form ({@code /path?query}), as received when it is already. */
  static String originForm(String target) {
    if (!target.isEmpty() && target.charAt(0) == '/') return target;
    if ("*".equals(target)) return target;
    String pq = HttpURI.from(target).getPathQuery();
    return pq == null || pq.isEmpty() ? "/" : pq;
  }

  /** The path, without the query: what logs and problem {@code instance}s show. */
  static String path(String target) {
    int q = target.indexOf('?');
    String s = q < 0 ? target : target.substring(0, q);
    if (s.isEmpty() || s.charAt(0) == '/' || "*".equals(s)) return s;
    String p = HttpURI.from(target).getPath();
    return p == null ? "/" : p;
  }
}
