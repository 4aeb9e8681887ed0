package io.bulwark.postgres;

import io.bulwark.core.task.TaskIds;
import io.bulwark.core.task.TaskLimits;
import io.bulwark.testkit.TestDatabase;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.UUID;

/** Shared helpers for the tests against a real PostgreSQL. */
final class PgFixtures {
  private PgFixtures() {}

  static Database.Config config(TestDatabase db) {
    return new Database.Config(db.jdbcUrl(), db.user(), db.password(), 8, Duration.ofSeconds(3), "test");
  }

  /** A migrated database on the test class's fresh PostgreSQL database. */
  static Database openMigrated(TestDatabase db) {
    Database d = Database.open(config(db));
    d.migrate();
    return d;
  }

  /** Empties every table, so that the tests of one class do not see each other's rows. */
  static void truncateAll(Database db) {
    exec(db, "TRUNCATE tasks, idempotency_keys, usage_minutes, api_keys");
  }

  static NewTask task(String tenant) {
    return task(tenant, "echo", 0, TaskLimits.DEFAULT_MAX_ATTEMPTS, null);
  }

  static NewTask task(String tenant, String type, int priority, int maxAttempts, Instant runAt) {
    return new NewTask(TaskIds.newId(), tenant, type, priority, maxAttempts, TaskLimits.DEFAULT_TIMEOUT_SECONDS,
        runAt, "{\"n\":1}", null, "application/json", null, null);
  }

  /** A task with an idempotency key; the request hash is derived from {@code request}. */
  static NewTask keyed(String tenant, String key, String request) {
    return new NewTask(TaskIds.newId(), tenant, "echo", 0, TaskLimits.DEFAULT_MAX_ATTEMPTS,
        TaskLimits.DEFAULT_TIMEOUT_SECONDS, null, request, null, "application/json", key, sha256(request));
  }

  static byte[] sha256(String s) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Runs one statement with positional parameters; returns the update count. */
  static int exec(Database db, String sql, Object... params) {
    try (Connection c = db.connection(); PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < params.length; i++) ps.setObject(i + 1, params[i]);
      ps.execute();
      return Math.max(ps.getUpdateCount(), 0);
    } catch (SQLException e) {
      throw new IllegalStateException(sql + ": " + e.getMessage(), e);
    }
  }

  /** The single value of a one-row, one-column query (null when there is no row). */
  static <T> T one(Database db, Class<T> type, String sql, Object... params) {
    try (Connection c = db.connection(); PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < params.length; i++) ps.setObject(i + 1, params[i]);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? rs.getObject(1, type) : null;
      }
    } catch (SQLException e) {
      throw new IllegalStateException(sql + ": " + e.getMessage(), e);
    }
  }

  static long count(Database db, String sql, Object... params) {
    Long n = one(db, Long.class, sql, params);
    return n == null ? 0 : n;
  }

  /** The database clock. */
  static Instant dbNow(Database db) {
    return one(db, java.time.OffsetDateTime.class, "SELECT clock_timestamp()").toInstant();
  }

  static UUID uuid(Database db, String sql, Object... params) {
    return one(db, UUID.class, sql, params);
  }
}
