package io.bulwark.cluster.lease;

import java.time.Duration;
import java.util.Optional;

/**
 * Exclusive, expiring ownership of a key: how the deployment decides who may act (promote a
 * database, switch DNS) without a single process deciding for everyone. A lease is held until its
 * holder stops renewing it for {@code ttl}, or releases it; while one holder has it, nobody else can
 * take it. Implementations: {@link InMemoryLeaseStore} for one machine, and the etcd one in
 * bulwark-etcd for a cluster (etcd leases: the store's own clock decides expiry, so a holder's clock
 * cannot extend it).
 *
 * <p>A holder must stop acting as the owner before the lease can have expired in the store, even
 * when it cannot reach the store to learn so: {@link LeaderLease} keeps that rule.
 */
public interface LeaseStore extends AutoCloseable {

  /**
   * Takes {@code key} for {@code holder} for {@code ttl} if nobody holds it. Atomic: of two
   * concurrent callers at most one gets it.
   *
   * @throws LeaseStoreUnavailableException when the store cannot be reached or does not answer in time
   */
  Acquisition tryAcquire(String key, String holder, Duration ttl);

  /**
   * Extends a held lease by its ttl from now. False when it is no longer held (it expired, was
   * released, or the key was taken over): the holder has lost it and must stop acting on it.
   *
   * @throws LeaseStoreUnavailableException when the store cannot tell (the holder must then count
   *     the lease as lost once its own deadline passes)
   */
  boolean renew(Lease lease);

  /**
   * Moves a held key onto a new lease of another {@code ttl}, atomically: the holder keeps the key
   * without a gap, and the old lease is given up. An agent about to restart does this to hold its
   * leadership across the restart (longer than its usual ttl); the restarted agent renews the new one.
   *
   * @return the new lease, or empty when {@code lease} no longer holds the key
   * @throws LeaseStoreUnavailableException when the store cannot be reached or does not answer in time
   */
  Optional<Lease> rehold(Lease lease, Duration ttl);

  /** Gives the lease up at once (a clean shutdown, a planned switchover). Losing it is not an error. */
  void release(Lease lease);

  /** Who holds {@code key} now, if anyone. */
  Optional<String> holder(String key);

  @Override
  default void close() {}

  /** A held lease. {@code id} tells this holding apart from an earlier one of the same holder. */
  record Lease(String key, String holder, long id, Duration ttl) {}

  /** The outcome of {@link #tryAcquire}: the lease, or who holds the key instead. */
  record Acquisition(Optional<Lease> lease, Optional<String> heldBy) {
    public static Acquisition acquired(Lease lease) {
      return new Acquisition(Optional.of(lease), Optional.of(lease.holder()));
    }

    public static Acquisition refused(String holder) {
      return new Acquisition(Optional.empty(), Optional.of(holder));
    }

    public boolean succeeded() {
      return lease.isPresent();
    }
  }
}
