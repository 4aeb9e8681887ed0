package io.bulwark.dns;

import java.util.Optional;

/**
 * Where the record lives and how it is changed: an authoritative server taking RFC 2136 updates
 * ({@link Rfc2136Provider}) or Cloudflare's API ({@link CloudflareProvider}). Every method either
 * does all it says or nothing: a failed {@link #point} leaves the record as it was, never pointing
 * nowhere.
 *
 * <p>Errors: {@link DnsConfigException} when the set-up is wrong (retrying cannot help),
 * {@link DnsUnavailableException} when the provider cannot answer now (retry later).
 */
public interface DnsProvider extends AutoCloseable {

  /** The provider and where it is, for messages and status (never a secret). */
  String describe();

  /** The record this provider manages. */
  DnsRecord record();

  /**
   * Checks, without changing anything, that the record can be read and changed with these
   * credentials: the zone exists and is served, the key or token is accepted and may edit it.
   */
  void validate();

  /** The record's value now (an address or, for CNAME, a host name without the trailing dot); empty when it does not exist. */
  Optional<String> current();

  /** Makes {@code target} the record's only value, with the record's ttl. */
  void point(String target);

  @Override
  default void close() {}
}
