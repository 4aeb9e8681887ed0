package io.bulwark.gateway;

import io.netty.util.AsciiString;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One API server: its admin state, its health (from active checks and failed live requests) and the
 * requests in flight to it. The hot path reads one volatile ({@link #usable}) and bumps one atomic;
 * state changes are rare and synchronized.
 */
final class Backend {
  private static final Logger log = LoggerFactory.getLogger(Backend.class);

  private final String gateway;
  private final BackendConfig config;
  private final HealthCheckConfig checks;
  private final String host;
  private final int port;
  private final AsciiString hostHeader;
  /** The server's address, resolved by {@link #resolve()}; unresolved (so connecting fails) until a lookup succeeds. */
  private volatile InetSocketAddress address;
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicInteger idleWaiters = new AtomicInteger();
  private final Object idleSignal = new Object();
  final GatewayMetrics.BackendMetrics metrics;

  private volatile ServerState state = ServerState.READY;
  private volatile Health health = Health.DOWN;
  /** {@code state == READY && health == UP}, kept in step under the lock. */
  private volatile boolean usable;
  private volatile boolean retired;

  // guarded by this
  private int consecutivePassed;
  private int consecutiveFailed;
  private long checksPassed;
  private long checksFailed;
  private String lastCheck;
  private Instant lastCheckAt;
  private Instant healthSince = Instant.now();

  Backend(String gateway, BackendConfig config, HealthCheckConfig checks, GatewayMetrics metrics) {
    this.gateway = gateway;
    this.config = config;
    this.checks = checks;
    this.host = config.url().getHost();
    this.port = config.url().getPort();
    String h = host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host; // an IPv6 literal
    this.hostHeader = AsciiString.cached(port == 80 ? h : h + ":" + port);
    this.metrics = metrics.backend(this);
    this.address = InetSocketAddress.createUnresolved(host, port);
    resolve();
  }

  /**
   * Looks the host up again (the JVM caches answers for 30 s), keeping the last good address when a
   * lookup fails. Called by the health checks, so a changed DNS record is followed without a
   * lookup ever blocking an event loop.
   */
  void resolve() {
    InetSocketAddress a = new InetSocketAddress(host, port);
    if (!a.isUnresolved() || address.isUnresolved()) address = a;
  }

  /** Where upstream connections go. */
  InetSocketAddress address() {
    return address;
  }

  String name() {
    return config.name();
  }

  BackendConfig config() {
    return config;
  }

  boolean backup() {
    return config.backup();
  }

  String host() {
    return host;
  }

  int port() {
    return port;
  }

  /** The {@code Host} header of upstream requests: {@code host:port} ({@code host} alone for port 80). */
  AsciiString hostHeader() {
    return hostHeader;
  }

  ServerState state() {
    return state;
  }

  Health health() {
    return health;
  }

  /** Removed from the gateway: never usable again, and its health checks stop. */
  void retire() {
    retired = true;
    usable = false;
  }

  boolean retired() {
    return retired;
  }

  boolean usable() {
    return usable;
  }

  int inFlight() {
    return inFlight.get();
  }

  // ------------------------------------------------------------------ requests

  /**
   * Counts a new request in, unless the server stopped being usable meanwhile (so that a request
   * racing {@code drain} is either refused here or seen by {@link #awaitIdle}).
   */
  boolean tryAcquire() {
    inFlight.incrementAndGet();
    if (usable) {
      metrics.requests.inc();
      return true;
    }
    release();
    return false;
  }

  void release() {
    if (inFlight.decrementAndGet() == 0 && idleWaiters.get() > 0) {
      synchronized (idleSignal) {
        idleSignal.notifyAll();
      }
    }
  }

  boolean awaitIdle(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    idleWaiters.incrementAndGet();
    try {
      synchronized (idleSignal) {
        while (inFlight.get() > 0) {
          long left = deadline - System.nanoTime();
          if (left <= 0) return false;
          TimeUnit.NANOSECONDS.timedWait(idleSignal, left);
        }
        return true;
      }
    } finally {
      idleWaiters.decrementAndGet();
    }
  }

  // ------------------------------------------------------------------ state and health

  synchronized void setState(ServerState newState) {
    ServerState old = state;
    state = newState;
    usable = !retired && newState == ServerState.READY && health == Health.UP;
    if (old != newState) log.info("[{}] server {} is now {} (was {})", gateway, name(), newState.label(), old.label());
    notifyAll();
  }

  /** The check run once at start: a server that passes it is up at once, otherwise it needs {@code rise} passes. */
  synchronized void initialCheck(boolean passed, String outcome, long nanos) {
    record(passed, outcome, nanos);
    if (passed) {
      consecutivePassed = 0;
      changeHealth(Health.UP, "passed its first check");
    } else {
      consecutivePassed = 0;
      log.warn("[{}] server {} starts DOWN: first check {}; it needs {} passed checks", gateway, name(), outcome, checks.rise());
    }
  }

  synchronized void checked(boolean passed, String outcome, long nanos) {
    record(passed, outcome, nanos);
    if (passed) {
      consecutiveFailed = 0;
      if (health == Health.DOWN && ++consecutivePassed >= checks.rise()) {
        changeHealth(Health.UP, consecutivePassed + " checks passed");
      }
    } else {
      consecutivePassed = 0;
      if (health == Health.UP && ++consecutiveFailed >= checks.fall()) {
        changeHealth(Health.DOWN, consecutiveFailed + " checks failed, last: " + outcome);
      }
    }
  }

  /** A live request could not connect or its connection broke: down now, back after {@code rise} passed checks. */
  synchronized void markDown(String why) {
    consecutivePassed = 0;
    if (health == Health.UP) changeHealth(Health.DOWN, why);
  }

  private void record(boolean passed, String outcome, long nanos) {
    if (passed) checksPassed++;
    else checksFailed++;
    lastCheck = outcome;
    lastCheckAt = Instant.now();
    metrics.checkLatency.observeNanos(nanos);
  }

  private void changeHealth(Health to, String why) {
    health = to;
    consecutivePassed = 0;
    consecutiveFailed = 0;
    healthSince = Instant.now();
    usable = !retired && state == ServerState.READY && to == Health.UP;
    if (to == Health.UP) {
      metrics.wentUp.inc();
      log.info("[{}] server {} is UP: {}", gateway, name(), why);
    } else {
      metrics.wentDown.inc();
      log.warn("[{}] server {} is DOWN: {}", gateway, name(), why);
    }
    notifyAll();
  }

  synchronized boolean awaitHealth(Health wanted, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (health != wanted) {
      long left = deadline - System.nanoTime();
      if (left <= 0) return false;
      TimeUnit.NANOSECONDS.timedWait(this, left);
    }
    return true;
  }

  /** Up and steady: the normal interval; down or on the way down: the fast one. */
  synchronized long nextCheckDelayMillis() {
    boolean steady = health == Health.UP && consecutiveFailed == 0;
    return (steady ? checks.interval() : checks.fastInterval()).toMillis();
  }

  synchronized ServerSnapshot snapshot() {
    return new ServerSnapshot(name(), config.url(), backup(), state, health, usable, inFlight.get(), metrics.requests.get(),
        checksPassed, checksFailed, lastCheck, lastCheckAt, healthSince);
  }

  @Override
  public String toString() {
    return name();
  }
}
