package io.bulwark.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bulwark.core.BulwarkException;
import io.bulwark.testkit.PostgresExtension;
import io.bulwark.testkit.TestDatabase;
import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;

@ExtendWith(PostgresExtension.class)
class DatabaseTest {

  /** A local port that nothing listens on (bound once, then released). */
  private static int deadPort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  private static Database.Config deadConfig() throws IOException {
    return new Database.Config("jdbc:postgresql://127.0.0.1:" + deadPort() + "/bulwark", "bulwark", "secret", 2,
        Duration.ofSeconds(1), "dead");
  }

  private static void failsFastAsUnavailable(ThrowingCallable call) {
    long start = System.nanoTime();
    assertThatThrownBy(call)
        .isInstanceOf(DatabaseUnavailableException.class)
        .hasMessageContaining("database unavailable")
        .hasMessageContaining("retry");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
  }

  @Test
  void a_pool_opens_against_a_port_nothing_listens_on_and_queries_then_fail_as_unavailable() throws IOException {
    long start = System.nanoTime();
    try (Database db = Database.open(deadConfig())) {
      assertThat(Duration.ofNanos(System.nanoTime() - start)).as("open does not wait").isLessThan(Duration.ofSeconds(3));

      failsFastAsUnavailable(() -> new TaskRepository(db).find("acme", UUID.randomUUID()));
      failsFastAsUnavailable(() -> new TaskRepository(db).submit(List.of(PgFixtures.task("acme")), true));
      failsFastAsUnavailable(() -> new TaskQueue(db).claim("w", 10, Duration.ofSeconds(30)));
      failsFastAsUnavailable(() -> new ApiKeyRepository(db).find("abc"));
      failsFastAsUnavailable(() -> new UsageRepository(db).report("acme", java.time.Instant.EPOCH));
      assertThat(db.isReachable()).isFalse();
    }
  }

  @Test
  void a_pool_against_a_running_database_is_reachable_and_migrates_idempotently(TestDatabase tdb) {
    try (Database db = Database.open(PgFixtures.config(tdb))) {
      assertThat(db.isReachable()).isTrue();
      db.migrate();
      db.migrate(); // a second run (another process starting) applies nothing and does not fail
      assertThat(PgFixtures.count(db, "SELECT count(*) FROM flyway_schema_history WHERE success")).isEqualTo(4);
      assertThat(PgFixtures.count(db,
          "SELECT count(*) FROM pg_constraint WHERE conname = 'tasks_lease_token_iff_running'")).isOne();
    }
  }

  @Test
  void migrate_when_reachable_gives_up_after_its_deadline_with_a_helpful_message() throws IOException {
    try (Database db = Database.open(deadConfig())) {
      long start = System.nanoTime();
      assertThatThrownBy(() -> db.migrateWhenReachable(Duration.ofSeconds(1)))
          .isInstanceOf(BulwarkException.class)
          .hasMessageContaining("could not migrate the database at jdbc:postgresql://127.0.0.1:")
          .hasMessageContaining("is PostgreSQL running");
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
    }
  }

  @Test
  void config_rejects_bad_settings_with_messages_that_say_what_is_allowed() {
    assertThatThrownBy(() -> new Database.Config("jdbc:mysql://x/y", "u", "p", 5, Duration.ofSeconds(3), "n"))
        .isInstanceOf(BulwarkException.class).hasMessageContaining("jdbc:postgresql:");
    assertThatThrownBy(() -> new Database.Config("jdbc:postgresql://x/y", "u", "p", 0, Duration.ofSeconds(3), "n"))
        .isInstanceOf(BulwarkException.class).hasMessageContaining("between 1 and 200");
    assertThatThrownBy(() -> new Database.Config("jdbc:postgresql://x/y", "u", "p", 5, Duration.ofMillis(100), "n"))
        .isInstanceOf(BulwarkException.class).hasMessageContaining("250 ms");
  }

  @Test
  void config_to_string_never_shows_the_password() {
    var c = new Database.Config("jdbc:postgresql://x/y", "u", "hunter2-secret", 5, Duration.ofSeconds(3), "n");
    assertThat(c.toString()).doesNotContain("hunter2-secret").contains("password=***");
  }
}
