package io.bulwark.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.bulwark.testkit.PostgresExtension;
import io.bulwark.testkit.TestDatabase;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Regression: completion batches were planned as a nested loop over every running task (found through
 * the partial index {@code tasks_lease_idx}) for each row of the batch, because the guard said
 * {@code state = 'running'} and the queue table's statistics, gathered while nothing ran, said almost
 * no task was running. Seen in production as 3.3 s per 500-row completion batch. The guards now name
 * only id, lease token and attempt, so each row of a batch is one primary-key lookup.
 *
 * <p>The trap is set up exactly: many queued tasks, ANALYZE (statistics: nothing runs), then ~2000
 * claims that the statistics do not know about, and generic plans (what a prepared statement gets
 * after its first executions, forced here).
 */
@ExtendWith(PostgresExtension.class)
class CompletionPlanRegressionTest {
  private static final int QUEUED = 20_000;
  private static final int RUNNING = 2_000;
  private static final int BATCH = 500;

  /** The guarded writes of {@link TaskQueue}, in the shape they are sent (parameters as $n). */
  private static final String SUCCESS_SQL =
      "UPDATE tasks t SET state = 'succeeded', result_json = u.rj, result_blob = u.rb, result_size = u.rs,"
          + " result_sha256 = u.rh, result_content_type = u.ct, error = NULL, finished_at = now(),"
          + " lease_token = NULL, lease_expires_at = NULL"
          + " FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[])"
          + " AS u(id, token, attempt, rj, rb, rs, rh, ct)"
          + " WHERE t.id = u.id AND t.lease_token = u.token AND t.attempts = u.attempt";
  private static final String SUCCESS_TYPES = "uuid[], uuid[], int[], text[], text[], bigint[], text[], text[]";

  private static Database db;
  private static TestDatabase tdb;
  private static List<ClaimedTask> running;

  @BeforeAll
  static void setTheTrap(TestDatabase testDatabase) throws SQLException {
    tdb = testDatabase;
    db = PgFixtures.openMigrated(tdb);
    try (Connection c = tdb.connect(); Statement s = c.createStatement()) {
      // keep the statistics exactly as stale as in production between autovacuum runs
      s.execute("ALTER TABLE tasks SET (autovacuum_enabled = false)");
      s.execute("INSERT INTO tasks (id, tenant, type, state, max_attempts, timeout_seconds, run_at, input_json,"
          + " input_content_type) SELECT gen_random_uuid(), 'acme', 'echo', 'queued', 5, 300,"
          + " now() - interval '1 minute', '{}', 'application/json' FROM generate_series(1, " + QUEUED + ")");
      s.execute("ANALYZE tasks"); // statistics: nothing is running
    }
    TaskQueue queue = new TaskQueue(db);
    running = new ArrayList<>();
    while (running.size() < RUNNING) running.addAll(queue.claim("worker-1", BATCH, Duration.ofMinutes(10)));
    assertThat(PgFixtures.count(db, "SELECT count(*) FROM tasks WHERE state = 'running'")).isEqualTo(RUNNING);
  }

  @AfterAll
  static void close() {
    db.close();
  }

  private static String arrayLiteral(List<?> values, String type) {
    return values.stream().map(v -> v == null ? "NULL" : v.toString())
        .collect(Collectors.joining(",", "'{", "}'::" + type));
  }

  /** EXPLAIN of a generic plan of {@code sql} for the first {@link #BATCH} running tasks. */
  private static String genericPlan(String sql, String types, int params) throws SQLException {
    List<ClaimedTask> batch = running.subList(0, BATCH);
    List<String> args = new ArrayList<>();
    args.add(arrayLiteral(batch.stream().map(ClaimedTask::id).toList(), "uuid[]"));
    args.add(arrayLiteral(batch.stream().map(ClaimedTask::leaseToken).toList(), "uuid[]"));
    args.add(arrayLiteral(batch.stream().map(ClaimedTask::attempt).toList(), "int[]"));
    String[] typeList = types.split(",\\s*");
    List<Object> nulls = new ArrayList<>();
    for (int i = 0; i < BATCH; i++) nulls.add(null);
    for (int i = 3; i < params; i++) args.add(arrayLiteral(nulls, typeList[i]));
    if (params < args.size()) args = args.subList(0, params);
    try (Connection c = tdb.connect(); Statement s = c.createStatement()) {
      s.execute("SET plan_cache_mode = force_generic_plan");
      s.execute("PREPARE guarded_write(" + types + ") AS " + sql);
      StringBuilder plan = new StringBuilder();
      try (ResultSet rs = s.executeQuery("EXPLAIN EXECUTE guarded_write(" + String.join(", ", args) + ")")) {
        while (rs.next()) plan.append(rs.getString(1)).append('\n');
      }
      return plan.toString();
    }
  }

  @Test
  void the_planner_no_longer_loops_over_every_running_task_for_each_completion_batch() throws SQLException {
    String plan = genericPlan(SUCCESS_SQL, SUCCESS_TYPES, 8);

    assertThat(plan).as(plan).doesNotContain("tasks_lease_idx").contains("tasks_pkey");
  }

  @Test
  void the_trap_is_real_the_old_guard_with_a_state_predicate_still_walks_the_lease_index() throws SQLException {
    // Proves the setup reproduces the bug: with the old guard the same statistics choose the lease index.
    String plan = genericPlan(SUCCESS_SQL + " AND t.state = 'running'", SUCCESS_TYPES, 8);

    assertThat(plan).as(plan).contains("tasks_lease_idx");
  }

  @Test
  void the_row_locks_and_the_failure_release_and_heartbeat_guards_are_primary_key_lookups_too() throws SQLException {
    String failure = "UPDATE tasks t SET"
        + " state = CASE WHEN u.permanent OR t.attempts >= t.max_attempts THEN 'dead' ELSE 'queued' END,"
        + " run_at = CASE WHEN u.permanent OR t.attempts >= t.max_attempts THEN t.run_at"
        + "               ELSE now() + u.delay_ms * interval '1 millisecond' END,"
        + " finished_at = CASE WHEN u.permanent OR t.attempts >= t.max_attempts THEN now() END,"
        + " error = u.error, lease_token = NULL, lease_expires_at = NULL"
        + " FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::bigint[], $6::boolean[])"
        + " AS u(id, token, attempt, error, delay_ms, permanent)"
        + " WHERE t.id = u.id AND t.lease_token = u.token AND t.attempts = u.attempt";
    String release = "UPDATE tasks t SET state = 'queued', attempts = t.attempts - 1, run_at = now(),"
        + " lease_token = NULL, lease_expires_at = NULL, worker = NULL"
        + " FROM unnest($1::uuid[], $2::uuid[], $3::int[]) AS u(id, token, attempt)"
        + " WHERE t.id = u.id AND t.lease_token = u.token AND t.attempts = u.attempt";
    String heartbeat = "UPDATE tasks t SET lease_expires_at = now() + interval '1 minute'"
        + " FROM unnest($1::uuid[], $2::uuid[], $3::int[]) AS u(id, token, attempt)"
        + " WHERE t.id = u.id AND t.lease_token = u.token AND t.attempts = u.attempt";

    String lockInIdOrder = "SELECT 1 FROM tasks WHERE id = ANY($1::uuid[]) ORDER BY id FOR NO KEY UPDATE";

    for (String plan : List.of(
        genericPlan(lockInIdOrder, "uuid[]", 1),
        genericPlan(failure, "uuid[], uuid[], int[], text[], bigint[], boolean[]", 6),
        genericPlan(release, "uuid[], uuid[], int[]", 3),
        genericPlan(heartbeat, "uuid[], uuid[], int[]", 3))) {
      assertThat(plan).as(plan).doesNotContain("tasks_lease_idx").contains("tasks_pkey");
    }
  }

  /**
   * The real {@link TaskQueue#complete} under generic plans: the index statistics must show primary-key
   * lookups and no use of the lease index. This checks the SQL TaskQueue actually sends, not a copy.
   */
  @Test
  void a_real_completion_batch_under_generic_plans_reads_no_lease_index() {
    String genericUrl = tdb.jdbcUrl() + "?options=-c%20plan_cache_mode%3Dforce_generic_plan";
    // let the claims' statistics arrive first, so that the baseline is stable
    await().atMost(Duration.ofSeconds(15)).until(() -> tableUpdates() >= RUNNING);
    long leaseScansBefore = indexScans("tasks_lease_idx");
    long pkeyScansBefore = indexScans("tasks_pkey");
    long updatesBefore = tableUpdates();

    Database.Config generic =
        new Database.Config(genericUrl, tdb.user(), tdb.password(), 2, Duration.ofSeconds(3), "generic");
    try (Database genericDb = Database.open(generic)) {
      assertThat(PgFixtures.one(genericDb, String.class, "SHOW plan_cache_mode")).isEqualTo("force_generic_plan");
      List<Completion> batch = new ArrayList<>();
      for (ClaimedTask c : running.subList(BATCH, 2 * BATCH)) {
        batch.add(new Completion.Success(c, "1", null, "application/json"));
      }
      TaskQueue.CompletionResult r = new TaskQueue(genericDb).complete(batch);
      assertThat(r.succeeded()).isEqualTo(BATCH);
    }

    // statistics reach the shared counters shortly after the writing session goes idle or ends
    await().atMost(Duration.ofSeconds(15)).until(() -> tableUpdates() >= updatesBefore + BATCH);
    assertThat(indexScans("tasks_lease_idx")).isEqualTo(leaseScansBefore);
    assertThat(indexScans("tasks_pkey") - pkeyScansBefore).isGreaterThanOrEqualTo(BATCH);
  }

  private static long indexScans(String index) {
    return PgFixtures.count(db, "SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = ?", index);
  }

  private static long tableUpdates() {
    return PgFixtures.count(db, "SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'tasks'");
  }
}
