package io.bulwark.api;

import io.bulwark.core.BulwarkException;
import io.bulwark.core.metrics.Metrics;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What one tenant may hold of an API server at once: requests in progress, and of them long polls
 * ({@code GET /v1/tasks/{id}?wait=}). One more gets 429 with {@code Retry-After}; the other tenants
 * are not affected. Bounds are per server (each API server enforces them on its own; behind a load
 * balancer that sends everything to the main server, that is the tenant's whole budget).
 *
 * <p>Concurrency, not a rate, is what a tenant can exhaust: a server's request threads and its load
 * balancer's connections. A tenant within these bounds can still go as fast as the server does, so
 * the bounds cost nothing to a tenant that does not hog (the benchmarks run within them).
 *
 * @param inFlight requests of one tenant in progress at once, long polls included
 * @param longPolls long polls of one tenant waiting at once
 */
public record TenantLimits(int inFlight, int longPolls) {
  public static final int DEFAULT_IN_FLIGHT = 512;
  public static final int DEFAULT_LONG_POLLS = 256;
  public static final TenantLimits DEFAULTS = new TenantLimits(DEFAULT_IN_FLIGHT, DEFAULT_LONG_POLLS);

  public TenantLimits {
    if (inFlight < 1) throw new BulwarkException("requests in progress per tenant must be at least 1, got " + inFlight);
    if (longPolls < 1 || longPolls > inFlight) {
      throw new BulwarkException("long polls per tenant must be 1 to the requests in progress per tenant (" + inFlight + "), got " + longPolls);
    }
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
    private final Metrics.Counter refused;

    Gate(TenantLimits limits, Metrics metrics) {
      this.limits = limits;
      this.refused = metrics.counter("api_tenant_limit_refusals_total", "Requests refused with 429: a tenant at its bound");
    }

    Permit request(String tenant) {
      return enter(tenant, 0, limits.inFlight(), "requests in progress");
    }

    Permit longPoll(String tenant) {
      return enter(tenant, 1, limits.longPolls(), "long polls waiting");
    }

    private Permit enter(String tenant, int which, int bound, String what) {
      AtomicInteger counter = held.computeIfAbsent(tenant, t -> new AtomicInteger[] {new AtomicInteger(), new AtomicInteger()})[which];
      if (counter.incrementAndGet() > bound) {
        counter.decrementAndGet();
        refused.inc();
        throw new ApiProblem(429, "too-many-requests", "Too many requests", "this tenant has " + bound + " " + what
            + " on this server, the most it may; retry when one has finished (Retry-After)");
      }
      return counter::decrementAndGet;
    }

    /** For tests and metrics: what a tenant holds now, {requests, long polls}. */
    int[] held(String tenant) {
      AtomicInteger[] c = held.get(tenant);
      return c == null ? new int[2] : new int[] {c[0].get(), c[1].get()};
    }
  }
}
