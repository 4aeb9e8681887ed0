package io.bulwark.cluster.lease;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.LongSupplier;

/**
 * The lease store of one machine: leases in this process's memory, expiring on a monotonic clock
 * ({@code System::nanoTime} in production, a settable one in tests). Used where all the deciders
 * live in one process (`bulwark up`), so the decisions run through the same code as in a cluster.
 */
public final class InMemoryLeaseStore implements LeaseStore {
  private final LongSupplier nanoTime;
  private final Map<String, Held> held = new HashMap<>(); // guarded by this
  private long nextId = 1;

  private record Held(String holder, long id, long expiresAtNanos) {}

  public InMemoryLeaseStore() {
    this(System::nanoTime);
  }

  public InMemoryLeaseStore(LongSupplier nanoTime) {
    this.nanoTime = nanoTime;
  }

  @Override
  public synchronized Acquisition tryAcquire(String key, String holder, Duration ttl) {
    requirePositive(ttl);
    Held current = live(key);
    if (current != null) return Acquisition.refused(current.holder());
    long id = nextId++;
    held.put(key, new Held(holder, id, nanoTime.getAsLong() + ttl.toNanos()));
    return Acquisition.acquired(new Lease(key, holder, id, ttl));
  }

  @Override
  public synchronized boolean renew(Lease lease) {
    Held current = live(lease.key());
    if (current == null || current.id() != lease.id()) return false;
    held.put(lease.key(), new Held(current.holder(), current.id(), nanoTime.getAsLong() + lease.ttl().toNanos()));
    return true;
  }

  @Override
  public synchronized Optional<Lease> rehold(Lease lease, Duration ttl) {
    requirePositive(ttl);
    Held current = live(lease.key());
    if (current == null || current.id() != lease.id()) return Optional.empty();
    long id = nextId++;
    held.put(lease.key(), new Held(current.holder(), id, nanoTime.getAsLong() + ttl.toNanos()));
    return Optional.of(new Lease(lease.key(), lease.holder(), id, ttl));
  }

  @Override
  public synchronized void release(Lease lease) {
    Held current = held.get(lease.key());
    if (current != null && current.id() == lease.id()) held.remove(lease.key());
  }

  @Override
  public synchronized Optional<String> holder(String key) {
    return Optional.ofNullable(live(key)).map(Held::holder);
  }

  private Held live(String key) {
    Held h = held.get(key);
    if (h != null && nanoTime.getAsLong() - h.expiresAtNanos() >= 0) {
      held.remove(key);
      return null;
    }
    return h;
  }

  static void requirePositive(Duration ttl) {
    if (ttl.isNegative() || ttl.isZero()) throw new IllegalArgumentException("a lease's ttl must be positive, got " + ttl);
  }
}
