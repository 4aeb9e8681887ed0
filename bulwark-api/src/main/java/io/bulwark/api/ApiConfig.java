package io.bulwark.api;

import io.bulwark.core.BulwarkException;
import java.time.Duration;

/**
 * API server settings, validated on construction.
 *
 * @param name instance name (logs, metrics, database application name)
 * @param host interface to bind
 * @param port port to bind (0 = any free port)
 * @param maxBodyBytes largest request body accepted; larger ones get 413
 * @param authCacheTtl how long a key lookup is cached; a revoked key stops working within this time
 * @param usageFlush how often in-memory usage counters are written to the database
 * @param submitTimeout how long a submission waits for its commit before answering 503
 * @param tenantLimits what one tenant may hold of this server at once (requests in progress, long polls)
 */
public record ApiConfig(
    String name, String host, int port, long maxBodyBytes, Duration authCacheTtl, Duration usageFlush,
    Duration submitTimeout, TenantLimits tenantLimits) {

  public static final long DEFAULT_MAX_BODY_BYTES = 16L * 1024 * 1024;
  public static final Duration DEFAULT_AUTH_CACHE_TTL = Duration.ofSeconds(1);
  public static final Duration DEFAULT_USAGE_FLUSH = Duration.ofSeconds(1);
  public static final Duration DEFAULT_SUBMIT_TIMEOUT = Duration.ofSeconds(10);

  public ApiConfig {
    if (port < 0 || port > 65535) throw new BulwarkException("port must be 0-65535, got " + port);
    if (maxBodyBytes < 1024) {
      throw new BulwarkException("max body size cannot be less than 1024 bytes, got " + maxBodyBytes);
    }
    if (authCacheTtl.toMillis() > 1000) {
      throw new BulwarkException("auth cache TTL cannot exceed 1000 ms (a revoked key must stop working on every server within 1 s), got "
          + authCacheTtl.toMillis() + " ms");
    }
    if (usageFlush.toMillis() < 100) {
      throw new BulwarkException("usage flush interval cannot be less than 100 ms, got " + usageFlush.toMillis() + " ms");
    }
  }

  public static ApiConfig defaults(String name, int port) {
    return new ApiConfig(name, "127.0.0.1", port, DEFAULT_MAX_BODY_BYTES, DEFAULT_AUTH_CACHE_TTL, DEFAULT_USAGE_FLUSH,
        DEFAULT_SUBMIT_TIMEOUT, TenantLimits.DEFAULTS);
  }

  public ApiConfig withHost(String h) {
    return new ApiConfig(name, h, port, maxBodyBytes, authCacheTtl, usageFlush, submitTimeout, tenantLimits);
  }

  public ApiConfig withMaxBodyBytes(long max) {
    return new ApiConfig(name, host, port, max, authCacheTtl, usageFlush, submitTimeout, tenantLimits);
  }

  public ApiConfig withTenantLimits(TenantLimits limits) {
    return new ApiConfig(name, host, port, maxBodyBytes, authCacheTtl, usageFlush, submitTimeout, limits);
  }
}
