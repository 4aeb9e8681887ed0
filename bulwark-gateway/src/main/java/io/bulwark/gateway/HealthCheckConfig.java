package io.bulwark.gateway;

import io.bulwark.core.BulwarkException;
import java.time.Duration;

/**
 * Active health checks (HAProxy {@code check inter fastinter rise fall}): a {@code GET path} on every
 * server; a 2xx or 3xx answer within {@code timeout} passes.
 *
 * @param path the path to check
 * @param interval time between checks of a server that is up and passed its last check
 * @param timeout how long one check may take before it counts as failed
 * @param rise consecutive passed checks that bring a down server up
 * @param fall consecutive failed checks that take an up server down
 * @param fastInterval time between checks while a server is changing state (up with failed checks)
 *     or down, so it comes back quickly
 */
public record HealthCheckConfig(String path, Duration interval, Duration timeout, int rise, int fall, Duration fastInterval) {

  public static final String DEFAULT_PATH = "/health/ready";
  public static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(1);
  public static final Duration DEFAULT_TIMEOUT = Duration.ofMillis(500);
  public static final int DEFAULT_RISE = 2;
  public static final int DEFAULT_FALL = 2;
  public static final Duration DEFAULT_FAST_INTERVAL = Duration.ofMillis(250);

  private static final long MIN_MS = 10;
  private static final int MAX_COUNT = 100;

  public HealthCheckConfig {
    if (path == null || !path.startsWith("/")) throw new BulwarkException("health check path must start with '/', got '" + path + "'");
    requireMillis("health check interval", interval);
    requireMillis("health check timeout", timeout);
    requireMillis("health check fast interval", fastInterval);
    if (fastInterval.compareTo(interval) > 0) {
      throw new BulwarkException("health check fast interval cannot exceed the interval (" + interval.toMillis()
          + " ms), got " + fastInterval.toMillis() + " ms");
    }
    if (rise < 1 || rise > MAX_COUNT) throw new BulwarkException("health check rise must be 1-" + MAX_COUNT + " checks, got " + rise);
    if (fall < 1 || fall > MAX_COUNT) throw new BulwarkException("health check fall must be 1-" + MAX_COUNT + " checks, got " + fall);
  }

  private static void requireMillis(String what, Duration d) {
    if (d == null || d.toMillis() < MIN_MS) {
      throw new BulwarkException(what + " cannot be less than " + MIN_MS + " ms, got " + (d == null ? "none" : d.toMillis() + " ms"));
    }
  }

  public static HealthCheckConfig defaults() {
    return new HealthCheckConfig(DEFAULT_PATH, DEFAULT_INTERVAL, DEFAULT_TIMEOUT, DEFAULT_RISE, DEFAULT_FALL, DEFAULT_FAST_INTERVAL);
  }

  public HealthCheckConfig withIntervals(Duration newInterval, Duration newFastInterval) {
    return new HealthCheckConfig(path, newInterval, timeout, rise, fall, newFastInterval);
  }

  public HealthCheckConfig withTimeout(Duration newTimeout) {
    return new HealthCheckConfig(path, interval, newTimeout, rise, fall, fastInterval);
  }

  public HealthCheckConfig withRiseFall(int newRise, int newFall) {
    return new HealthCheckConfig(path, interval, timeout, newRise, newFall, fastInterval);
  }
}
