package io.bulwark.cluster.lease;

import java.time.Duration;

/**
 * The holder's side of a leader lease, the rule that keeps two writable primaries from ever
 * coexisting: a leader acts as leader only while it <em>knows</em> the store still counts the lease
 * as its own, and that knowledge ages from the moment it <em>sent</em> its last successful renewal
 * (the store restarted the ttl no earlier than that). Once {@code ttl - safetyMargin} has passed
 * since then without a renewal confirmed, it must step down (stop accepting writes) even if it cannot
 * reach the store to find out, so that it has stopped before anyone else can acquire the lease.
 * The margin covers the time to stop writes and the rate difference of two hosts' clocks.
 *
 * <p>Patroni's rule (ha.py: a leader that fails to update the leader key demotes itself) with
 * Patroni's constraint {@code loop_wait + 2 * retry_timeout <= ttl} in the form {@code renewEvery +
 * safetyMargin < ttl}: at least one renewal can fail without stepping down.
 *
 * <p>Pure: time comes in as monotonic nanoseconds, so every rule is tested without a clock or a
 * store. Not thread-safe: owned by the one loop that renews.
 */
public final class LeaderLease {

  /**
   * @param ttl the lease's time to live in the store
   * @param renewEvery how often the holder renews
   * @param safetyMargin how long before the store could expire the lease the holder stops acting
   */
  public record Config(Duration ttl, Duration renewEvery, Duration safetyMargin) {
    /**
     * 5 s ttl, renewed every second, stepping down 2 s early (3 s after the last confirmed renewal was
     * sent): a dead leader's key expires 4-5 s after its death, and a leader survives two renewals
     * lost to an etcd leader election.
     */
    public static final Config DEFAULT = new Config(Duration.ofSeconds(5), Duration.ofSeconds(1), Duration.ofSeconds(2));

    public Config {
      InMemoryLeaseStore.requirePositive(ttl);
      if (renewEvery.isNegative() || renewEvery.isZero()) {
        throw new IllegalArgumentException("renewEvery must be positive, got " + renewEvery);
      }
      if (safetyMargin.isNegative()) throw new IllegalArgumentException("safetyMargin cannot be negative, got " + safetyMargin);
      if (renewEvery.plus(safetyMargin).compareTo(ttl) >= 0) {
        throw new IllegalArgumentException("renewEvery (" + renewEvery + ") + safetyMargin (" + safetyMargin
            + ") must be less than the ttl (" + ttl + "): otherwise one late renewal would make the leader step down");
      }
    }
  }

  /** What the holder may do now. */
  public enum Verdict {
    /** The lease is certainly still ours: act as leader. */
    LEAD,
    /** We may have lost it, or certainly have: stop acting as leader now. */
    STEP_DOWN
  }

  private final Config config;
  private boolean held;
  private long confirmedFromNanos;

  public LeaderLease(Config config) {
    this.config = config;
  }

  /** The lease was acquired by a request sent at {@code sentAtNanos}. */
  public void acquired(long sentAtNanos) {
    held = true;
    confirmedFromNanos = sentAtNanos;
  }

  /** A renewal sent at {@code sentAtNanos} was confirmed by the store. */
  public void renewed(long sentAtNanos) {
    if (held && sentAtNanos - confirmedFromNanos > 0) confirmedFromNanos = sentAtNanos;
  }

  /** The store answered that the lease is not ours any more (expired, released, taken over). */
  public void lost() {
    held = false;
  }

  /** Whether the holder may act as leader at {@code nowNanos}. */
  public Verdict verdict(long nowNanos) {
    if (!held) return Verdict.STEP_DOWN;
    return nowNanos - confirmedFromNanos < config.ttl().minus(config.safetyMargin()).toNanos() ? Verdict.LEAD : Verdict.STEP_DOWN;
  }

  /** How long the holder may still lead without another confirmed renewal (zero when it may not). */
  public Duration remaining(long nowNanos) {
    if (!held) return Duration.ZERO;
    long left = config.ttl().minus(config.safetyMargin()).toNanos() - (nowNanos - confirmedFromNanos);
    return left > 0 ? Duration.ofNanos(left) : Duration.ZERO;
  }

  public Config config() {
    return config;
  }
}
