package io.bulwark.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bulwark.core.BulwarkException;
import io.bulwark.core.auth.ApiKey;
import io.bulwark.testkit.PostgresExtension;
import io.bulwark.testkit.TestDatabase;
import java.time.Instant;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(PostgresExtension.class)
class ApiKeyRepositoryTest {
  private static Database db;
  private static ApiKeyRepository keys;

  @BeforeAll
  static void open(TestDatabase tdb) {
    db = PgFixtures.openMigrated(tdb);
    keys = new ApiKeyRepository(db);
  }

  @AfterAll
  static void close() {
    db.close();
  }

  @BeforeEach
  void empty() {
    PgFixtures.truncateAll(db);
  }

  @Test
  void a_created_key_is_found_by_id_and_verifies_the_presented_secret() {
    ApiKey key = ApiKey.generate();

    ApiKeyRepository.StoredKey stored = keys.create(key.id(), "acme", "ci", key.secretHash(), false);

    assertThat(stored.id()).isEqualTo(key.id());
    assertThat(stored.tenant()).isEqualTo("acme");
    assertThat(stored.name()).isEqualTo("ci");
    assertThat(stored.admin()).isFalse();
    assertThat(stored.createdAt()).isNotNull();
    assertThat(stored.revoked()).isFalse();
    assertThat(stored.secretHash()).isEqualTo(key.secretHash());

    ApiKeyRepository.StoredKey found = keys.find(key.id()).orElseThrow();
    assertThat(found.tenant()).isEqualTo("acme");
    assertThat(found.createdAt()).isEqualTo(stored.createdAt());
    assertThat(ApiKey.parse(key.token()).orElseThrow().matches(found.secretHash())).isTrue();
    assertThat(ApiKey.generate().matches(found.secretHash())).isFalse();
  }

  @Test
  void only_the_hash_of_the_secret_is_stored() {
    ApiKey key = ApiKey.generate();
    keys.create(key.id(), "acme", "ci", key.secretHash(), false);

    assertThat(PgFixtures.count(db,
        "SELECT count(*) FROM api_keys WHERE position(convert_to(?, 'UTF8') IN secret_sha256) > 0", key.secret()))
        .isZero();
  }

  @Test
  void an_unknown_id_is_not_found() {
    assertThat(keys.find("nosuchkey0000000")).isEmpty();
  }

  @Test
  void list_returns_every_key_oldest_first() {
    ApiKey a = ApiKey.generate();
    ApiKey b = ApiKey.generate();
    keys.create(a.id(), "acme", "first", a.secretHash(), true);
    keys.create(b.id(), "globex", "second", b.secretHash(), false);
    PgFixtures.exec(db, "UPDATE api_keys SET created_at = now() - interval '1 hour' WHERE id = ?", a.id());

    assertThat(keys.list()).extracting(ApiKeyRepository.StoredKey::id).containsExactly(a.id(), b.id());
    assertThat(keys.list().get(0).admin()).isTrue();
  }

  @Test
  void revoking_twice_keeps_the_first_revocation_time() {
    ApiKey key = ApiKey.generate();
    keys.create(key.id(), "acme", "ci", key.secretHash(), false);

    assertThat(keys.revoke(key.id())).isTrue();
    Instant first = keys.find(key.id()).orElseThrow().revokedAt();
    assertThat(first).isNotNull();
    assertThat(keys.find(key.id()).orElseThrow().revoked()).isTrue();

    assertThat(keys.revoke(key.id())).isTrue();
    assertThat(keys.find(key.id()).orElseThrow().revokedAt()).isEqualTo(first);
  }

  @Test
  void revoking_an_unknown_key_returns_false() {
    assertThat(keys.revoke("nosuchkey0000000")).isFalse();
  }

  @Test
  void creating_a_key_with_an_existing_id_fails_without_claiming_the_database_is_down() {
    ApiKey key = ApiKey.generate();
    keys.create(key.id(), "acme", "ci", key.secretHash(), false);

    assertThatThrownBy(() -> keys.create(key.id(), "globex", "other", key.secretHash(), false))
        .isInstanceOf(BulwarkException.class)
        .isNotInstanceOf(DatabaseUnavailableException.class)
        .hasMessageContaining("tenant globex");
    assertThat(keys.find(key.id()).orElseThrow().tenant()).isEqualTo("acme");
  }
}
