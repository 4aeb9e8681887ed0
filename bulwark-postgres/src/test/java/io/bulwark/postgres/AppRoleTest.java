package io.bulwark.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bulwark.core.BulwarkException;
import io.bulwark.testkit.PostgresExtension;
import io.bulwark.testkit.TestDatabase;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The role API servers and workers connect as does their work and nothing else. */
@ExtendWith(PostgresExtension.class)
class AppRoleTest {
  static final String PASSWORD = "app-" + Long.toHexString(System.nanoTime());
  static TestDatabase tdb;
  static Database owner;
  static Database app;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    tdb = db;
    owner = PgFixtures.openMigrated(db);
    try (Connection c = owner.connection()) {
      AppRole.ensure(c, db.name(), PASSWORD.toCharArray());
    }
    app = Database.open(new Database.Config(db.jdbcUrl(), AppRole.NAME, PASSWORD, 4, Duration.ofSeconds(3), "app"));
  }

  @AfterAll
  static void tearDown() {
    if (app != null) app.close();
    if (owner != null) owner.close();
  }

  static void refused(String sql, String why) {
    assertThatThrownBy(() -> {
      try (Connection c = DriverManager.getConnection(tdb.jdbcUrl(), AppRole.NAME, PASSWORD); Statement st = c.createStatement()) {
        st.execute(sql);
      }
    }).as(why).isInstanceOf(SQLException.class).hasMessageMatching("(?s).*(permission denied|must be owner).*");
  }

  @Test
  void the_role_does_the_api_and_workers_work() {
    app.migrate(); // nothing pending: checks, applies nothing
    TaskRepository tasks = new TaskRepository(app);
    TaskQueue queue = new TaskQueue(app);
    assertThat(tasks.submit(List.of(PgFixtures.task("acme")), true)).hasSize(1);
    List<ClaimedTask> claimed = queue.claim("w1", 10, Duration.ofSeconds(30));
    assertThat(claimed).hasSize(1);
    assertThat(queue.heartbeat(claimed, Duration.ofSeconds(30))).containsExactly(claimed.get(0).id());
    assertThat(queue.complete(List.of(new Completion.Success(claimed.get(0), "{}", null, null))).succeeded()).isEqualTo(1);
    new ApiKeyRepository(app).create("k-" + System.nanoTime(), "acme", "test", new byte[32], false);
    new UsageRepository(app).add(List.of(new UsageRepository.Counts("acme", Instant.parse("2026-01-01T00:00:00Z"), 1, 1, 0, 0, 10, 10, 10)));
    assertThat(new UsageRepository(app).report("acme", Instant.EPOCH).totals().requests()).isEqualTo(1);
    assertThat(tasks.pruneIdempotencyKeys(Duration.ofDays(1))).isZero();
  }

  @Test
  void the_role_cannot_change_the_schema_run_programs_or_make_roles() {
    refused("CREATE TABLE stolen (i int)", "no creating in the schema");
    refused("DROP TABLE tasks", "owns no table");
    refused("ALTER TABLE tasks ADD COLUMN x int", "owns no table");
    refused("COPY (SELECT 1) TO PROGRAM 'id'", "no shell through COPY");
    refused("SELECT pg_read_file('postgresql.conf')", "no server files");
    refused("ALTER SYSTEM SET fsync = off", "no server settings");
    refused("CREATE ROLE intruder LOGIN SUPERUSER", "no roles");
    refused("DELETE FROM flyway_schema_history", "the migrations' history is read-only");
  }

  @Test
  void the_role_does_not_migrate_and_says_so_when_the_schema_is_behind() {
    // as if this build knew a migration the schema's owner has not applied yet
    Object version = PgFixtures.one(owner, String.class, "SELECT max(version::int)::text FROM flyway_schema_history WHERE version IS NOT NULL");
    PgFixtures.exec(owner, "CREATE TABLE held_back AS SELECT * FROM flyway_schema_history WHERE version = ?", version);
    PgFixtures.exec(owner, "DELETE FROM flyway_schema_history WHERE version = ?", version);
    try {
      assertThatThrownBy(app::migrate).isInstanceOf(BulwarkException.class)
          .hasMessageContaining("lacks 1 migration").hasMessageContaining("may not apply them");
    } finally {
      PgFixtures.exec(owner, "INSERT INTO flyway_schema_history SELECT * FROM held_back");
      PgFixtures.exec(owner, "DROP TABLE held_back");
    }
    app.migrate();
  }

  @Test
  void setting_up_again_changes_the_password_and_keeps_the_grants() throws SQLException {
    String next = PASSWORD + "-2";
    try (Connection c = owner.connection()) {
      AppRole.ensure(c, tdb.name(), next.toCharArray());
    }
    assertThatThrownBy(() -> DriverManager.getConnection(tdb.jdbcUrl(), AppRole.NAME, PASSWORD).close())
        .isInstanceOf(SQLException.class).hasMessageContaining("password authentication failed");
    try (Connection c = DriverManager.getConnection(tdb.jdbcUrl(), AppRole.NAME, next); Statement st = c.createStatement()) {
      st.executeQuery("SELECT count(*) FROM tasks").close();
    }
    try (Connection c = owner.connection()) {
      AppRole.ensure(c, tdb.name(), PASSWORD.toCharArray());
    }
  }
}
