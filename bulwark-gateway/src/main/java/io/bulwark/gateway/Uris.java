package io.bulwark.gateway;

import org.eclipse.jetty.http.HttpURI;
import org.eclipse.jetty.http.UriCompliance;

/**
 * Request targets as the gateway sees them. Checked with the same parser and rules as the API
 * server (Jetty's request-target parsing, {@link UriCompliance#DEFAULT}), so a target the API would
 * refuse as ambiguous (an encoded {@code /} or {@code ..}, say) is refused here and never reaches it.
 * Accepted forms: origin-form ({@code /path?query}), absolute-form ({@code http://host/path}, sent
 * on in origin-form), and {@code *} for {@code OPTIONS}.
 */
final class Uris {
  private Uris() {}

  /** Why the gateway refuses {@code target} of a {@code method} request, or null if it does not. */
  static String violation(String method, String target) {
    if (target.isEmpty()) return "empty request target";
    if (isPlain(target)) return null; // the common case: nothing to decode, nothing ambiguous
    if ("*".equals(target)) return "OPTIONS".equals(method) ? null : "the request target * is only for OPTIONS";
    if (target.charAt(0) != '/' && !isHttpUrl(target)) {
      return "the request target must be a path (/...) or an http:// URL, got '" + abbreviate(target) + "'";
    }
    HttpURI uri;
    try {
      uri = parse(method, target);
    } catch (RuntimeException e) {
      return "malformed request target: " + e.getMessage();
    }
    if (target.charAt(0) != '/' && (uri.getHost() == null || uri.getHost().isEmpty())) return "the request target's URL has no host";
    for (UriCompliance.Violation v : uri.getViolations()) {
      if (!UriCompliance.DEFAULT.allows(v)) return "ambiguous request target (" + v.getDescription() + ")";
    }
    return null;
  }

  /** The target as sent upstream: origin-form ({@code /path?query}); as received when it is already. */
  static String originForm(String method, String target) {
    if (target.isEmpty() || target.charAt(0) == '/' || "*".equals(target)) return target;
    HttpURI uri = parse(method, target); // violation() accepted it: it parses
    String path = uri.getPath() == null || uri.getPath().isEmpty() ? "/" : uri.getPath();
    return uri.getQuery() == null ? path : path + "?" + uri.getQuery();
  }

  /** The path, without the query: what logs and problem {@code instance}s show. Never fails, even for a target refused as malformed. */
  static String path(String target) {
    int q = target.indexOf('?');
    String s = q < 0 ? target : target.substring(0, q);
    if (s.isEmpty() || s.charAt(0) == '/' || "*".equals(s)) return s;
    try {
      String p = HttpURI.from(target).getPath();
      return p == null || p.isEmpty() ? "/" : p;
    } catch (RuntimeException e) {
      return abbreviate(s);
    }
  }

  private static HttpURI parse(String method, String target) {
    return HttpURI.build().uri(method, target);
  }

  private static boolean isHttpUrl(String target) {
    return target.regionMatches(true, 0, "http://", 0, 7) || target.regionMatches(true, 0, "https://", 0, 8);
  }

  private static String abbreviate(String s) {
    return s.length() <= 100 ? s : s.substring(0, 100) + "...";
  }

  /** An origin-form target with only characters that need no decoding and no dot or empty segments. */
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
}
