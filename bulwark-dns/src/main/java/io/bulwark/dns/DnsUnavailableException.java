package io.bulwark.dns;

import io.bulwark.core.BulwarkException;
import java.time.Duration;
import java.util.Optional;

/**
 * The DNS provider could not be reached or answered that it cannot serve now (a timeout, a refused
 * connection, SERVFAIL, HTTP 5xx, 429): the same request may succeed later. {@code retryAfter} is the
 * provider's own hint (Cloudflare's {@code Retry-After}), when it gave one.
 */
public class DnsUnavailableException extends BulwarkException {
  private final transient Duration retryAfter;

  public DnsUnavailableException(String message, Duration retryAfter, Throwable cause) {
    super(message, cause);
    this.retryAfter = retryAfter;
  }

  public DnsUnavailableException(String message) {
    this(message, null, null);
  }

  public Optional<Duration> retryAfter() {
    return Optional.ofNullable(retryAfter);
  }
}
