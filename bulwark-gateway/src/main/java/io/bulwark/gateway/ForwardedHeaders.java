package io.bulwark.gateway;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AsciiString;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Which headers cross the gateway. Hop-by-hop headers (RFC 9110 7.6.1: {@code Connection}, the
 * headers it names, {@code Keep-Alive}, {@code Proxy-*}, {@code TE}, {@code Trailer},
 * {@code Transfer-Encoding}, {@code Upgrade}) stop here in both directions. Upstream requests get
 * {@code X-Forwarded-For} (the client's address appended), {@code X-Forwarded-Proto},
 * {@code X-Forwarded-Host} and {@code X-Request-Id}; the gateway is the edge, so a client's own
 * {@code X-Forwarded-Proto}/{@code -Host} are replaced, not trusted.
 */
final class ForwardedHeaders {
  // the names the gateway writes, in their usual spelling (header names are case-insensitive; Netty's own constants are lower case)
  static final AsciiString X_REQUEST_ID = AsciiString.cached("X-Request-Id");
  static final AsciiString X_FORWARDED_FOR = AsciiString.cached("X-Forwarded-For");
  static final AsciiString X_FORWARDED_PROTO = AsciiString.cached("X-Forwarded-Proto");
  static final AsciiString X_FORWARDED_HOST = AsciiString.cached("X-Forwarded-Host");
  static final AsciiString HOST = AsciiString.cached("Host");
  static final AsciiString CONTENT_TYPE = AsciiString.cached("Content-Type");
  static final AsciiString CONTENT_LENGTH = AsciiString.cached("Content-Length");
  static final AsciiString CACHE_CONTROL = AsciiString.cached("Cache-Control");
  static final AsciiString RETRY_AFTER = AsciiString.cached("Retry-After");
  static final AsciiString CONNECTION = AsciiString.cached("Connection");
  static final AsciiString TRANSFER_ENCODING = AsciiString.cached("Transfer-Encoding");
  static final AsciiString HTTP = AsciiString.cached("http");
  static final AsciiString HTTPS = AsciiString.cached("https");
  private static final AsciiString CLOSE = AsciiString.cached("close");
  private static final AsciiString KEEP_ALIVE = AsciiString.cached("keep-alive");

  private static final AsciiString[] HOP_BY_HOP = {
      HttpHeaderNames.CONNECTION, HttpHeaderNames.KEEP_ALIVE, HttpHeaderNames.PROXY_CONNECTION,
      HttpHeaderNames.PROXY_AUTHORIZATION, HttpHeaderNames.PROXY_AUTHENTICATE, HttpHeaderNames.TE, HttpHeaderNames.TRAILER,
      HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderNames.UPGRADE};

  /** Not forwarded upstream besides the hop-by-hop ones: recomputed by the gateway. */
  private static final AsciiString[] RECOMPUTED = {
      HttpHeaderNames.HOST, HttpHeaderNames.CONTENT_LENGTH, HttpHeaderNames.EXPECT, X_FORWARDED_PROTO, X_FORWARDED_HOST,
      X_FORWARDED_FOR, X_REQUEST_ID};

  private ForwardedHeaders() {}

  /**
   * Fills {@code out} with the headers of the upstream request: the client's end-to-end headers,
   * then {@code Host} (the server's: {@code host}), {@code X-Forwarded-For} ({@code clientAddress}
   * appended to the client's own list), {@code X-Forwarded-Proto} ({@code proto}: how the client reached the gateway), {@code X-Forwarded-Host} (the
   * client's {@code Host}) and {@code X-Request-Id}.
   */
  static void upstream(HttpHeaders in, String clientAddress, String requestId, CharSequence host, CharSequence proto, HttpHeaders out) {
    Set<String> named = connectionTokens(in);
    String forwardedFor = null;
    CharSequence clientHost = null;
    for (Iterator<Map.Entry<CharSequence, CharSequence>> it = in.iteratorCharSequence(); it.hasNext(); ) {
      Map.Entry<CharSequence, CharSequence> h = it.next();
      CharSequence name = h.getKey();
      if (AsciiString.contentEqualsIgnoreCase(name, X_FORWARDED_FOR)) {
        String v = h.getValue().toString();
        forwardedFor = forwardedFor == null ? v : forwardedFor + ", " + v;
        continue;
      }
      if (clientHost == null && AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.HOST)) clientHost = h.getValue();
      if (isOneOf(name, HOP_BY_HOP) || isOneOf(name, RECOMPUTED) || isProxyHeader(name)) continue;
      if (named != null && named.contains(name.toString().toLowerCase(Locale.ROOT))) continue;
      out.add(name, h.getValue());
    }
    out.add(HOST, host);
    out.add(X_FORWARDED_FOR, forwardedFor == null || forwardedFor.isBlank() ? clientAddress : forwardedFor + ", " + clientAddress);
    out.add(X_FORWARDED_PROTO, proto);
    if (clientHost != null) out.add(X_FORWARDED_HOST, clientHost);
    out.add(X_REQUEST_ID, requestId);
  }

  /** Copies a server's response headers for the client, without the hop-by-hop ones, and sets {@code X-Request-Id}. */
  static void downstream(HttpHeaders from, HttpHeaders to, String requestId) {
    Set<String> named = connectionTokens(from);
    for (Iterator<Map.Entry<CharSequence, CharSequence>> it = from.iteratorCharSequence(); it.hasNext(); ) {
      Map.Entry<CharSequence, CharSequence> h = it.next();
      CharSequence name = h.getKey();
      if (isOneOf(name, HOP_BY_HOP) || isProxyHeader(name) || AsciiString.contentEqualsIgnoreCase(name, X_REQUEST_ID)) continue;
      if (named != null && named.contains(name.toString().toLowerCase(Locale.ROOT))) continue;
      to.add(name, h.getValue());
    }
    to.set(X_REQUEST_ID, requestId);
  }

  /**
   * Says whether the connection stays open after {@code message} ({@code Connection: close}, or
   * {@code keep-alive} for HTTP/1.0, whose default is to close).
   */
  static void keepAlive(HttpMessage message, boolean keepAlive) {
    HttpHeaders h = message.headers();
    if (!keepAlive) h.set(CONNECTION, CLOSE);
    else if (message.protocolVersion() == HttpVersion.HTTP_1_0) h.set(CONNECTION, KEEP_ALIVE);
    else h.remove(CONNECTION);
  }

  private static boolean isOneOf(CharSequence name, AsciiString[] names) {
    for (AsciiString n : names) {
      if (AsciiString.contentEqualsIgnoreCase(name, n)) return true;
    }
    return false;
  }

  private static boolean isProxyHeader(CharSequence name) {
    return name.length() > 6 && AsciiString.regionMatches(name, true, 0, "proxy-", 0, 6);
  }

  /** Header names listed in {@code Connection} (other than close/keep-alive), lower case; null if none. */
  private static Set<String> connectionTokens(HttpHeaders headers) {
    if (!headers.contains(HttpHeaderNames.CONNECTION)) return null;
    Set<String> names = null;
    for (String value : headers.getAll(HttpHeaderNames.CONNECTION)) {
      for (String token : value.split(",")) {
        String t = token.strip().toLowerCase(Locale.ROOT);
        if (t.isEmpty() || t.equals("close") || t.equals("keep-alive")) continue;
        if (names == null) names = new HashSet<>();
        names.add(t);
      }
    }
    return names;
  }
}
