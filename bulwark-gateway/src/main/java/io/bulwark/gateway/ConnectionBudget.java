package io.bulwark.gateway;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * How many client connections the gateway holds, in all and per client address, shared by every
 * event loop. A connection over either limit is answered 503 with Retry-After and closed: one client
 * (or a crowd) cannot take the connections, and the memory behind them, that everyone else needs.
 */
final class ConnectionBudget {
  private final GatewayConfig.ConnectionLimits limits;
  private final AtomicInteger total = new AtomicInteger();
  private final ConcurrentHashMap<String, AtomicInteger> byClient = new ConcurrentHashMap<>();

  ConnectionBudget(GatewayConfig.ConnectionLimits limits) {
    this.limits = limits;
  }

  /** Takes a place for a connection from {@code client}; false (nothing taken) when a limit is reached. */
  boolean admit(String client) {
    if (total.incrementAndGet() > limits.total()) {
      total.decrementAndGet();
      return false;
    }
    AtomicInteger mine = byClient.computeIfAbsent(client, c -> new AtomicInteger());
    if (mine.incrementAndGet() > limits.perClient()) {
      release(client);
      return false;
    }
    return true;
  }

  /** Gives back the place of a connection that {@link #admit} let in. */
  void release(String client) {
    total.decrementAndGet();
    byClient.computeIfPresent(client, (c, n) -> n.decrementAndGet() <= 0 ? null : n);
  }

  int connections() {
    return total.get();
  }

  GatewayConfig.ConnectionLimits limits() {
    return limits;
  }
}
