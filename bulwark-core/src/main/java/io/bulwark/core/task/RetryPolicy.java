package io.bulwark.core.task;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/** How long a failed attempt waits before the next one. */
@FunctionalInterface
public interface RetryPolicy {

  /** Delay before the attempt that follows failed attempt number {@code attempt} (1-based). */
  Duration delayAfter(int attempt);

  /**
   * base × 2^(attempt-1), capped, then "equal jitter": half the delay fixed, half random, so retries of
   * many tasks that failed together spread out instead of hammering a recovering dependency at once.
   */
  record ExponentialBackoff(Duration base, Duration cap) implements RetryPolicy {
    public static final Duration DEFAULT_BASE = Duration.ofSeconds(1);
    public static final Duration DEFAULT_CAP = Duration.ofMinutes(10);

    public ExponentialBackoff {
      if (base.toMillis() < 1) {
        throw new IllegalArgumentException("retry base delay cannot be less than 1 ms, got " + base.toMillis() + " ms");
      }
      if (cap.compareTo(base) < 0) {
        throw new IllegalArgumentException(
            "retry cap (" + cap.toMillis() + " ms) cannot be less than the base delay (" + base.toMillis() + " ms)");
      }
    }

    public static ExponentialBackoff defaults() {
      return new ExponentialBackoff(DEFAULT_BASE, DEFAULT_CAP);
    }

    @Override
    public Duration delayAfter(int attempt) {
      int shift = Math.min(Math.max(attempt, 1) - 1, 62);
      long baseMs = base.toMillis();
      long capMs = cap.toMillis();
      long ms = baseMs > (capMs >> shift) ? capMs : Math.min(capMs, baseMs << shift); // saturates, never overflows
      long half = ms / 2;
      return Duration.ofMillis(half + ThreadLocalRandom.current().nextLong(half + 1));
    }
  }
}
