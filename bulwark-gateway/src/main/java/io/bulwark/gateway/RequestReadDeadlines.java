package io.bulwark.gateway;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.server.Request;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Slow-client protection Jetty 12 does not have: a client must send a complete request (headers and
 * body) within the read timeout of opening the connection, or of its previous response ending.
 * Jetty's idle timeout alone restarts at every byte, so a client trickling one byte every few
 * seconds would hold a connection forever; and {@code HttpConfiguration.setMinRequestDataRate} is
 * not enforced by Jetty 12 (and never covered headers).
 *
 * <p>Each connection has a clock: armed when the connection opens and when a response ends, cleared
 * when a request has fully arrived. A sweeper closes connections whose clock has run longer than
 * the timeout. While a request is being proxied the clock is off: slow servers and long polls are
 * bounded by the upstream timeout instead. A keep-alive connection idle between requests is closed
 * after the timeout too (like HAProxy, where {@code timeout http-request} covers keep-alive idle
 * time unless {@code timeout http-keep-alive} is set).
 */
final class RequestReadDeadlines implements Connection.Listener {
  private static final Logger log = LoggerFactory.getLogger(RequestReadDeadlines.class);
  private static final long OFF = 0;

  private final String gateway;
  private final long timeoutNanos;
  private final Map<Connection, AtomicLong> clocks = new ConcurrentHashMap<>();

  RequestReadDeadlines(String gateway, long timeoutMillis) {
    this.gateway = gateway;
    this.timeoutNanos = timeoutMillis * 1_000_000L;
  }

  /** How often {@link #sweep} should run: a quarter of the timeout, at most every second. */
  static long sweepPeriodMillis(long timeoutMillis) {
    return Math.max(10, Math.min(1000, timeoutMillis / 4));
  }

  @Override
  public void onOpened(Connection connection) {
    clocks.put(connection, new AtomicLong(now()));
  }

  @Override
  public void onClosed(Connection connection) {
    clocks.remove(connection);
  }

  /** The request has fully arrived: stop the clock. */
  void received(Request request) {
    AtomicLong clock = clocks.get(request.getConnectionMetaData().getConnection());
    if (clock != null) clock.set(OFF);
  }

  /** The response has ended: the next request must arrive in time. */
  void responded(Request request) {
    AtomicLong clock = clocks.get(request.getConnectionMetaData().getConnection());
    if (clock != null) clock.set(now());
  }

  void sweep() {
    long now = System.nanoTime();
    clocks.forEach((connection, clock) -> {
      long since = clock.get();
      if (since != OFF && now - since > timeoutNanos && clock.compareAndSet(since, OFF)) {
        if (log.isDebugEnabled()) {
          log.debug("[{}] closing {}: no complete request within {} ms", gateway, connection.getEndPoint().getRemoteSocketAddress(),
              timeoutNanos / 1_000_000);
        }
        connection.getEndPoint().close();
      }
    });
  }

  int tracked() {
    return clocks.size();
  }

  private static long now() {
    long t = System.nanoTime();
    return t == OFF ? 1 : t;
  }
}
