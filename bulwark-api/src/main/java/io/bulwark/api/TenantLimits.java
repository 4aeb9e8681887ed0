package io.bulwark.api;

import io.bulwark.core.BulwarkException;
import io.bulwark.core.metrics.Metrics;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What one tenant may take of an API server: requests in progress at once, and of them long polls
 * ({@code GET /v1/tasks/{id}?wait=}), and optionally requests per second. One more gets 429 with
 * {@code Retry-After}; the other tenants are not affected. Bounds are per server (each API server
 * enforces them on its own; behind a load balancer that sends everything to the main server, that is
 * the tenant's whole budget).
 *
 * <p>Concurrency is what a tenant can exhaust for everybody: a server's request threads and its load
 * balancer's connections. Those bounds are always on, and a tenant within them can still go as fast
 * as the server does (the benchmarks run within them). A rate is a business decision (what a tenant
 * paid for), so it is off unless set: a token bucket per tenant holding one second of requests.
 *
 * @param inFlight requests of one tenant in progress at once, long polls included
 * @param longPolls long polls of one tenant waiting at once
 * @param requestsPerSecond requests per second one tenant may make on this server; 0: no rate limit
 */
public record TenantLimits(int inFlight, int longPolls, int requestsPerSecond) {
  public static final int DEFAULT_IN_FLIGHT = 512;
  public static final int DEFAULT_LONG_POLLS = 256;
  public static final TenantLimits DEFAULTS = new TenantLimits(DEFAULT_IN_FLIGHT, DEFAULT_LONG_POLLS, 0);
  /**
   * Retry-After of a tenant at its long-poll bound: its polls wait up to a minute each, so a place is
   * rarely free a second later; a client told 1 s comes back to be refused again (the hostile bench's
   * 2,100 polls made ~750 refused requests a second that way).
   */
  static final int LONG_POLL_RETRY_AFTER_SECONDS = 5;

  public TenantLimits {
    if (inFlight < 1) throw new BulwarkException("requests in progress per tenant must be at least 1, got " + inFlight);
    if (longPolls < 1 || longPolls > inFlight) {
      throw new BulwarkException("long polls per tenant must be 1 to the requests in progress per tenant (" + inFlight + "), got " + longPolls);
    }
    if (requestsPerSecond < 0) throw new BulwarkException("requests per second per tenant must be 0 (no limit) or more, got " + requestsPerSecond);
  }

  /** A request (or long poll) admitted; closing it gives the place back. */
  interface Permit extends AutoCloseable {
    @Override
    void close();
  }

  /** The counters of every tenant seen: as many as there are tenants with keys (requests are authenticated first). */
  static final class Gate {
    private final TenantLimits limits;
    private final ConcurrentHashMap<String, AtomicInteger[]> held = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Bucket> buckets = new ConcurrentHashMap<>();
    private final java.util.function.LongSupplier nanoTime;
    private final Metrics.Counter refused;

    Gate(TenantLimits limits, Metrics metrics) {
      this(limits, metrics, System::nanoTime);
    }

    Gate(TenantLimits limits, Metrics metrics, java.util.function.LongSupplier nanoTime) {
      this.limits = limits;
      this.nanoTime = nanoTime;
      this.refused = metrics.counter("api_tenant_limit_refusals_total", "Requests refused with 429: a tenant at its bound");
    }

    /** Admits one request of this tenant, or throws 429 (rate first, then requests in progress). */
    Permit request(String tenant) {
      if (limits.requestsPerSecond() > 0) {
        long waitNanos = buckets.computeIfAbsent(tenant, t -> new Bucket(limits.requestsPerSecond(), nanoTime.getAsLong()))
            .take(nanoTime.getAsLong());
        if (waitNanos > 0) { // at most a second: a token comes at least once a second
          refused.inc();
          throw new ApiProblem(429, "too-many-requests", "Too many requests", "this tenant may make " + limits.requestsPerSecond()
              + " requests per second on this server; retry after " + Math.max(1, waitNanos / 1_000_000) + " ms (Retry-After)");
        }
      }
      return enter(tenant, 0, limits.inFlight(), "requests in progress");
    }

    Permit longPoll(String tenant) {
      return enter(tenant, 1, limits.longPolls(), "long polls waiting", LONG_POLL_RETRY_AFTER_SECONDS);
    }

    private Permit enter(String tenant, int which, int bound, String what) {
      return enter(tenant, which, bound, what, 1);
    }

    private Permit enter(String tenant, int which, int bound, String what, int retryAfterSeconds) {
      AtomicInteger counter = held.computeIfAbsent(tenant, t -> new AtomicInteger[] {new AtomicInteger(), new AtomicInteger()})[which];
      if (counter.incrementAndGet() > bound) {
        counter.decrementAndGet();
        refused.inc();
        throw new ApiProblem(429, "too-many-requests", "Too many requests", "this tenant has " + bound + " " + what
            + " on this server, the most it may; retry when one has finished (Retry-After)").retryAfter(retryAfterSeconds);
      }
      return counter::decrementAndGet;
    }

    /** One second of requests, refilled continuously. */
    private static final class Bucket {
      private final double perNano;
      private final double capacity;
      private double tokens;
      private long last;

      Bucket(int perSecond, long now) {
        this.perNano = perSecond / 1e9;
        this.capacity = perSecond;
        this.tokens = perSecond;
        this.last = now;
      }

      /** Takes a token: 0 if there was one, else how long until there is one (nothing taken). */
      synchronized long take(long now) {
        tokens = Math.min(capacity, tokens + (now - last) * perNano);
        last = now;
        if (tokens >= 1) {
          tokens -= 1;
          return 0;
        }
        return (long) Math.ceil((1 - tokens) / perNano);
      }
    }

    /** For tests and metrics: what a tenant holds now, {requests, long polls}. */
    int[] held(String tenant) {
      AtomicInteger[] c = held.get(tenant);
      return c == null ? new int[2] : new int[] {c[0].get(), c[1].get()};
    }
  }
}
