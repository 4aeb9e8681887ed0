package io.bulwark.api;

import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.LoadingCache;
import io.bulwark.core.auth.ApiKey;
import io.bulwark.postgres.ApiKeyRepository;
import io.bulwark.postgres.ApiKeyRepository.StoredKey;
import io.bulwark.postgres.DatabaseUnavailableException;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletionException;

/**
 * Resolves {@code Authorization: Bearer bwk_<id>_<secret>}. Lookups by key id are cached for at most
 * the configured TTL (≤ 5 s), unknown ids too, so a burst of bad keys does not reach the database;
 * the secret is checked against the stored SHA-256 in constant time on every request.
 */
final class Authenticator {
  private final LoadingCache<String, Optional<StoredKey>> cache;

  Authenticator(ApiKeyRepository keys, Duration ttl) {
    this.cache = Caffeine.newBuilder().expireAfterWrite(ttl).maximumSize(100_000).build(keys::find);
  }

  Exchange.Principal authenticate(String authorization) {
    if (authorization == null || authorization.isBlank()) {
      throw ApiProblem.unauthorized("missing Authorization header; send 'Authorization: Bearer <api key>'")
          .with("wwwAuthenticate", "Bearer");
    }
    if (!authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
      throw ApiProblem.unauthorized("Authorization must use the Bearer scheme: 'Authorization: Bearer <api key>'");
    }
    ApiKey presented = ApiKey.parse(authorization.substring(7).trim())
        .orElseThrow(() -> ApiProblem.unauthorized("malformed API key; keys look like bwk_<id>_<secret>"));
    Optional<StoredKey> stored;
    try {
      stored = cache.get(presented.id());
    } catch (CompletionException | DatabaseUnavailableException e) {
      throw ApiProblem.unavailable("cannot verify the API key: the database is unavailable; retry shortly");
    }
    if (stored.isEmpty() || stored.get().revoked() || !presented.matches(stored.get().secretHash())) {
      throw ApiProblem.unauthorized("invalid or revoked API key");
    }
    StoredKey k = stored.get();
    return new Exchange.Principal(k.id(), k.tenant(), k.admin());
  }

  void invalidate(String keyId) {
    cache.invalidate(keyId);
  }
}
