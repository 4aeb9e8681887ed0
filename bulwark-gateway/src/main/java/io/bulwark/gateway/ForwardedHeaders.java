package io.bulwark.gateway;

import java.util.EnumSet;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;

/**
 * Which headers cross the gateway. Hop-by-hop headers (RFC 9110 7.6.1: {@code Connection}, the
 * headers it names, {@code Keep-Alive}, {@code Proxy-*}, {@code TE}, {@code Trailer},
 * {@code Transfer-Encoding}, {@code Upgrade}) stop here in both directions. Upstream requests get
 * {@code X-Forwarded-For} (the client's address appended), {@code X-Forwarded-Proto},
 * {@code X-Forwarded-Host} and {@code X-Request-Id}; the gateway is the edge, so a client's own
 * {@code X-Forwarded-Proto}/{@code -Host} are replaced, not trusted.
 */
final class ForwardedHeaders {
  static final String X_REQUEST_ID = "X-Request-Id";

  private static final EnumSet<HttpHeader> HOP_BY_HOP = EnumSet.of(
      HttpHeader.CONNECTION, HttpHeader.KEEP_ALIVE, HttpHeader.PROXY_CONNECTION, HttpHeader.PROXY_AUTHORIZATION,
      HttpHeader.PROXY_AUTHENTICATE, HttpHeader.TE, HttpHeader.TRAILER, HttpHeader.TRANSFER_ENCODING, HttpHeader.UPGRADE);

  /** Not forwarded upstream: hop-by-hop, or recomputed by the gateway or by the HTTP client. */
  private static final EnumSet<HttpHeader> NOT_FORWARDED = EnumSet.of(
      HttpHeader.HOST, HttpHeader.CONTENT_LENGTH, HttpHeader.EXPECT, HttpHeader.X_FORWARDED_PROTO, HttpHeader.X_FORWARDED_HOST);

  private static final HttpField FORWARDED_PROTO_HTTP = new HttpField(HttpHeader.X_FORWARDED_PROTO, "http");
  private static final HttpField FORWARDED_PROTO_HTTPS = new HttpField(HttpHeader.X_FORWARDED_PROTO, "https");

  static {
    NOT_FORWARDED.addAll(HOP_BY_HOP);
  }

  private ForwardedHeaders() {}

  /**
   * Adds the headers of the upstream request for {@code request} to {@code out} (the upstream
   * request's own fields, so nothing is copied twice), {@code Host} first: the server's, as the
   * HTTP client would compute it (the client's own is sent as {@code X-Forwarded-Host}).
   */
  static void upstream(Request request, String requestId, HttpField host, HttpFields.Mutable out) {
    HttpFields in = request.getHeaders();
    Set<String> named = connectionTokens(in);
    out.add(host);
    String forwardedFor = null;
    String clientHost = null;
    for (HttpField f : in) {
      HttpHeader h = f.getHeader();
      if (h == HttpHeader.X_FORWARDED_FOR) {
        forwardedFor = forwardedFor == null ? f.getValue() : forwardedFor + ", " + f.getValue();
        continue;
      }
      if (h == HttpHeader.HOST && clientHost == null) clientHost = f.getValue();
      if (h != null ? NOT_FORWARDED.contains(h) : isProxyHeader(f) || f.is(X_REQUEST_ID)) continue;
      if (named != null && named.contains(f.getLowerCaseName())) continue;
      out.add(f);
    }
    String client = Request.getRemoteAddr(request);
    out.add(HttpHeader.X_FORWARDED_FOR, forwardedFor == null || forwardedFor.isBlank() ? client : forwardedFor + ", " + client);
    out.add(request.isSecure() ? FORWARDED_PROTO_HTTPS : FORWARDED_PROTO_HTTP);
    if (clientHost != null) out.add(HttpHeader.X_FORWARDED_HOST, clientHost);
    out.add(X_REQUEST_ID, requestId);
  }

  /** Copies a server's response headers for the client, without the hop-by-hop ones. */
  static void downstream(HttpFields from, HttpFields.Mutable to, String requestId) {
    Set<String> named = connectionTokens(from);
    for (HttpField f : from) {
      HttpHeader h = f.getHeader();
      if (h != null ? HOP_BY_HOP.contains(h) : isProxyHeader(f) || f.is(X_REQUEST_ID)) continue;
      if (named != null && named.contains(f.getLowerCaseName())) continue;
      to.add(f);
    }
    to.put(X_REQUEST_ID, requestId);
  }

  private static boolean isProxyHeader(HttpField f) {
    String name = f.getName();
    return name.length() > 6 && name.regionMatches(true, 0, "proxy-", 0, 6);
  }

  /** Header names listed in {@code Connection} (other than close/keep-alive), lower case; null if none. */
  private static Set<String> connectionTokens(HttpFields fields) {
    Set<String> names = null;
    for (HttpField f : fields) {
      if (f.getHeader() != HttpHeader.CONNECTION) continue;
      for (String token : f.getValue().split(",")) {
        String t = token.strip().toLowerCase(Locale.ROOT);
        if (t.isEmpty() || t.equals("close") || t.equals("keep-alive")) continue;
        if (names == null) names = new HashSet<>();
        names.add(t);
      }
    }
    return names;
  }
}
