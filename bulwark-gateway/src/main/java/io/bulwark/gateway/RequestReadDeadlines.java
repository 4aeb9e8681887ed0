package io.bulwark.gateway;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Slow-client protection: a client must send a complete request (headers and body) within the
 * read timeout of opening the connection, or of its previous response ending (HAProxy's
 * {@code timeout http-request}). An idle timeout alone restarts at every byte, so a client
 * trickling one byte every few seconds would hold a connection forever.
 *
 * <p>Each {@link ClientConnection} has a clock, armed when it opens and when a response ends,
 * stopped when a request has fully arrived. A sweeper closes connections whose clock has run longer
 * than the timeout, and connections whose answer has not moved for the idle timeout (a client that
 * stopped reading). While a request is being proxied the clock is off: slow servers and long polls
 * are bounded by the upstream timeout instead. A keep-alive connection idle between requests is
 * closed after the read timeout too (as in HAProxy, unless {@code timeout http-keep-alive} is set).
 */
final class RequestReadDeadlines {
  private static final Logger log = LoggerFactory.getLogger(RequestReadDeadlines.class);
  static final long OFF = 0;

  private final String gateway;
  private final long timeoutNanos;
  private final long idleNanos;
  private final Set<ClientConnection> open = ConcurrentHashMap.newKeySet();

  RequestReadDeadlines(String gateway, long timeoutMillis, long idleMillis) {
    this.gateway = gateway;
    this.timeoutNanos = timeoutMillis * 1_000_000L;
    this.idleNanos = idleMillis * 1_000_000L;
  }

  /** How often {@link #sweep} should run: a quarter of the shorter timeout, at most every second. */
  static long sweepPeriodMillis(long timeoutMillis, long idleMillis) {
    return Math.max(10, Math.min(1000, Math.min(timeoutMillis, idleMillis) / 4));
  }

  void opened(ClientConnection c) {
    open.add(c);
  }

  void closed(ClientConnection c) {
    open.remove(c);
  }

  void sweep() {
    long now = System.nanoTime();
    for (ClientConnection c : open) {
      long since = c.clock;
      if (since != OFF && now - since > timeoutNanos) {
        if (log.isDebugEnabled()) log.debug("[{}] closing {}: no complete request within {} ms", gateway, c.remoteAddress(), timeoutNanos / 1_000_000);
        c.abort();
        continue;
      }
      long stalled = c.unwritableSince;
      if (stalled != OFF && now - stalled > idleNanos) {
        if (log.isDebugEnabled()) log.debug("[{}] closing {}: it read none of its answer for {} ms", gateway, c.remoteAddress(), idleNanos / 1_000_000);
        c.abort();
      }
    }
  }

  static long now() {
    long t = System.nanoTime();
    return t == OFF ? 1 : t;
  }
}
