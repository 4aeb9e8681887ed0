package io.bulwark.gateway;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * How many client connections the gateway holds, in all and per client address, and how fast it reads
 * from each address, shared by every event loop. A connection over either connection limit is answered
 * 503 with Retry-After and closed: one client (or a crowd) cannot take the connections, and the memory
 * behind them, that everyone else needs. An address sending faster than its byte rate has its
 * connections' reads paused until it is within it again: the gateway's CPU spent on one client's
 * uploads is bounded, and the other clients' requests are not queued behind them.
 */
final class ConnectionBudget {
  private final GatewayConfig.ConnectionLimits limits;
  private final AtomicInteger total = new AtomicInteger();
  private final ConcurrentHashMap<String, Client> byClient = new ConcurrentHashMap<>();
  private final java.util.function.LongSupplier nanoTime;

  /** One address: its connections, and its byte bucket (bytes it may still send now; negative: a debt). */
  private static final class Client {
    final AtomicInteger connections = new AtomicInteger();
    private double tokens;
    private long last;

    Client(double tokens, long now) {
      this.tokens = tokens;
      this.last = now;
    }

    /** Takes {@code n} bytes; how long until the address is within its rate again (0: it is). */
    synchronized long take(long n, long perSecond, long now) {
      tokens = Math.min(perSecond, tokens + (now - last) * (perSecond / 1e9));
      last = now;
      tokens -= n;
      return tokens >= 0 ? 0 : (long) Math.ceil(-tokens / (perSecond / 1e9));
    }
  }

  ConnectionBudget(GatewayConfig.ConnectionLimits limits) {
    this(limits, System::nanoTime);
  }

  ConnectionBudget(GatewayConfig.ConnectionLimits limits, java.util.function.LongSupplier nanoTime) {
    this.limits = limits;
    this.nanoTime = nanoTime;
  }

  /**
   * Counts {@code n} request bytes read from {@code client}: the nanoseconds its reads must pause to
   * keep it within its byte rate, 0 when they need not (or there is no rate).
   */
  long read(String client, long n) {
    long rate = limits.perClientBytesPerSecond();
    if (rate == 0) return 0;
    Client c = byClient.get(client);
    return c == null ? 0 : c.take(n, rate, nanoTime.getAsLong());
  }

  /** Takes a place for a connection from {@code client}; false (nothing taken) when a limit is reached. */
  boolean admit(String client) {
    if (total.incrementAndGet() > limits.total()) {
      total.decrementAndGet();
      return false;
    }
    Client mine = byClient.computeIfAbsent(client, c -> new Client(limits.perClientBytesPerSecond(), nanoTime.getAsLong()));
    if (mine.connections.incrementAndGet() > limits.perClient()) {
      release(client);
      return false;
    }
    return true;
  }

  /** Gives back the place of a connection that {@link #admit} let in. */
  void release(String client) {
    total.decrementAndGet();
    // an address with no connection left is forgotten, its byte bucket with it (it comes back full: the
    // rate bounds what a client sends while connected, a reconnect costs a handshake and a place)
    byClient.computeIfPresent(client, (c, n) -> n.connections.decrementAndGet() <= 0 ? null : n);
  }

  int connections() {
    return total.get();
  }

  GatewayConfig.ConnectionLimits limits() {
    return limits;
  }
}
