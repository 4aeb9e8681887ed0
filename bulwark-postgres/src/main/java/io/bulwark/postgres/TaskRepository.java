package io.bulwark.postgres;

import static io.bulwark.postgres.SqlArrays.bytea;
import static io.bulwark.postgres.SqlArrays.int4;
import static io.bulwark.postgres.SqlArrays.int8;
import static io.bulwark.postgres.SqlArrays.text;
import static io.bulwark.postgres.SqlArrays.timestamptz;
import static io.bulwark.postgres.SqlArrays.uuid;

import io.bulwark.core.task.Task;
import io.bulwark.core.task.TaskState;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/**
 * The API side of the tasks table: submitting (with idempotency keys, in one transaction), reading,
 * listing, cancelling and re-driving tasks. Every read and write is scoped to a tenant: another
 * tenant's task is simply not found.
 */
public final class TaskRepository {
  /** Channel notified when tasks become ready to run; workers LISTEN on it. */
  public static final String QUEUED_CHANNEL = "bulwark_task_queued";

  private final Database db;

  public TaskRepository(Database db) {
    this.db = db;
  }

  /**
   * Inserts the tasks in one transaction and returns one outcome per task, in order. With
   * {@code allOrNothing}, a single idempotency-key conflict rolls back the whole submission (a batch
   * request) and only the {@link SubmitOutcome.KeyConflict}s are returned; without it, a conflicting
   * task is skipped and the others commit (independent requests grouped into one commit).
   */
  public List<SubmitOutcome> submit(List<NewTask> tasks, boolean allOrNothing) {
    try (Connection c = db.connection()) {
      c.setAutoCommit(false);
      try {
        List<SubmitOutcome> outcomes = submitIn(c, tasks, allOrNothing);
        if (allOrNothing && outcomes.stream().anyMatch(o -> o instanceof SubmitOutcome.KeyConflict)) {
          c.rollback();
        } else {
          c.commit();
          // wake workers if anything is ready now
          if (outcomes.stream().anyMatch(o -> o instanceof SubmitOutcome.Created cr
              && !cr.task().runAt().isAfter(cr.task().createdAt()))) {
            notifyAfterCommit(c, QUEUED_CHANNEL);
          }
        }
        return outcomes;
      } catch (SQLException | RuntimeException e) {
        rollbackQuietly(c);
        throw e;
      }
    } catch (SQLException e) {
      throw DatabaseUnavailableException.translate("submitting " + tasks.size() + " task(s)", e);
    }
  }

  private List<SubmitOutcome> submitIn(Connection c, List<NewTask> tasks, boolean allOrNothing)
      throws SQLException {
    int n = tasks.size();
    // 1. Claim idempotency keys. A key already present (possibly earlier in this same list) is a replay
    //    when the request hash matches, a conflict when it does not.
    Map<Integer, UUID> replayOf = new HashMap<>();
    Set<Integer> conflicts = new HashSet<>();
    List<Integer> keyed = new ArrayList<>();
    for (int i = 0; i < n; i++) if (tasks.get(i).idempotencyKey() != null) keyed.add(i);
    // Claim keys in one global order, so that submissions sharing keys wait for each other instead of
    // deadlocking (each holding one key and waiting for the other's); the sort is stable, so of
    // duplicates within this list the first still wins.
    keyed.sort(Comparator.comparing((Integer i) -> tasks.get(i).tenant())
        .thenComparing(i -> tasks.get(i).idempotencyKey()));
    if (!keyed.isEmpty()) claimKeys(c, tasks, keyed, replayOf, conflicts);
    if (allOrNothing && !conflicts.isEmpty()) {
      List<SubmitOutcome> out = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        if (conflicts.contains(i)) out.add(new SubmitOutcome.KeyConflict(tasks.get(i).idempotencyKey()));
      }
      return out;
    }
    // 2. Insert the new tasks.
    List<NewTask> fresh = new ArrayList<>();
    for (int i = 0; i < n; i++) if (!replayOf.containsKey(i) && !conflicts.contains(i)) fresh.add(tasks.get(i));
    Map<UUID, Task> inserted = insert(c, fresh);
    // 3. Load replayed originals.
    Map<UUID, Task> originals = new HashMap<>(inserted);
    Set<UUID> missing = new HashSet<>(replayOf.values());
    missing.removeAll(originals.keySet());
    if (!missing.isEmpty()) originals.putAll(findAll(c, missing));
    List<SubmitOutcome> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      NewTask t = tasks.get(i);
      if (conflicts.contains(i)) out.add(new SubmitOutcome.KeyConflict(t.idempotencyKey()));
      else if (replayOf.containsKey(i)) out.add(new SubmitOutcome.Replayed(originals.get(replayOf.get(i))));
      else out.add(new SubmitOutcome.Created(inserted.get(t.id())));
    }
    return out;
  }

  private static void claimKeys(Connection c, List<NewTask> tasks, List<Integer> keyed,
      Map<Integer, UUID> replayOf, Set<Integer> conflicts) throws SQLException {
    int k = keyed.size();
    String[] tenants = new String[k];
    String[] keys = new String[k];
    byte[][] hashes = new byte[k][];
    UUID[] ids = new UUID[k];
    for (int j = 0; j < k; j++) {
      NewTask t = tasks.get(keyed.get(j));
      tenants[j] = t.tenant();
      keys[j] = t.idempotencyKey();
      hashes[j] = t.requestHash();
      ids[j] = t.id();
    }
    // ON CONFLICT DO NOTHING: of duplicates within this statement the first wins, as does an older row.
    Set<UUID> claimed = new HashSet<>();
    try (PreparedStatement ps = c.prepareStatement(
        "INSERT INTO idempotency_keys (tenant, key, request_sha256, task_id)"
            + " SELECT * FROM unnest(?::text[], ?::text[], ?::bytea[], ?::uuid[])"
            + " ON CONFLICT DO NOTHING RETURNING task_id")) {
      SqlArrays.bind(c, ps, 1, text(tenants), text(keys), bytea(hashes), uuid(ids));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) claimed.add(rs.getObject(1, UUID.class));
      }
    }
    List<Integer> lookups = new ArrayList<>();
    for (int j = 0; j < k; j++) if (!claimed.contains(ids[j])) lookups.add(j);
    if (lookups.isEmpty()) return;
    Map<String, byte[]> existingHash = new HashMap<>();
    Map<String, UUID> existingTask = new HashMap<>();
    try (PreparedStatement ps = c.prepareStatement(
        "SELECT i.tenant, i.key, i.request_sha256, i.task_id FROM idempotency_keys i"
            + " JOIN unnest(?::text[], ?::text[]) AS q(tenant, key) ON i.tenant = q.tenant AND i.key = q.key")) {
      SqlArrays.bind(c, ps, 1, text(lookups.stream().map(j -> tenants[j]).toArray()),
          text(lookups.stream().map(j -> keys[j]).toArray()));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          String id = rs.getString(1) + "\u0000" + rs.getString(2);
          existingHash.put(id, rs.getBytes(3));
          existingTask.put(id, rs.getObject(4, UUID.class));
        }
      }
    }
    for (int j : lookups) {
      String id = tenants[j] + "\u0000" + keys[j];
      byte[] h = existingHash.get(id);
      if (h != null && Arrays.equals(h, hashes[j])) replayOf.put(keyed.get(j), existingTask.get(id));
      else conflicts.add(keyed.get(j));
    }
  }

  private static Map<UUID, Task> insert(Connection c, List<NewTask> fresh) throws SQLException {
    Map<UUID, Task> out = new HashMap<>();
    if (fresh.isEmpty()) return out;
    int n = fresh.size();
    Object[] ids = new Object[n], tenants = new Object[n], types = new Object[n], prios = new Object[n],
        maxes = new Object[n], timeouts = new Object[n], runAts = new Object[n], jsons = new Object[n],
        blobs = new Object[n], sizes = new Object[n], shas = new Object[n], cts = new Object[n];
    for (int i = 0; i < n; i++) {
      NewTask t = fresh.get(i);
      ids[i] = t.id();
      tenants[i] = t.tenant();
      types[i] = t.type();
      prios[i] = t.priority();
      maxes[i] = t.maxAttempts();
      timeouts[i] = t.timeoutSeconds();
      runAts[i] = TaskRows.timestamptzElement(t.runAt());
      jsons[i] = t.inputJson();
      blobs[i] = t.inputBlob() == null ? null : t.inputBlob().key();
      sizes[i] = t.inputBlob() == null ? null : t.inputBlob().size();
      shas[i] = t.inputBlob() == null ? null : t.inputBlob().sha256();
      cts[i] = t.inputContentType();
    }
    try (PreparedStatement ps = c.prepareStatement(
        "INSERT INTO tasks (id, tenant, type, state, priority, max_attempts, timeout_seconds, run_at,"
            + " input_json, input_blob, input_size, input_sha256, input_content_type)"
            + " SELECT u.id, u.tenant, u.type, 'queued', u.priority, u.max_attempts, u.timeout_seconds,"
            + " coalesce(u.run_at, now()), u.input_json, u.input_blob, u.input_size, u.input_sha256, u.ct"
            + " FROM unnest(?::uuid[], ?::text[], ?::text[], ?::int[], ?::int[], ?::int[], ?::timestamptz[],"
            + " ?::text[], ?::text[], ?::bigint[], ?::text[], ?::text[])"
            + " AS u(id, tenant, type, priority, max_attempts, timeout_seconds, run_at, input_json, input_blob,"
            + " input_size, input_sha256, ct)"
            + " RETURNING " + TaskRows.COLUMNS)) {
      SqlArrays.bind(c, ps, 1, uuid(ids), text(tenants), text(types), int4(prios), int4(maxes), int4(timeouts),
          timestamptz(runAts), text(jsons), text(blobs), int8(sizes), text(shas), text(cts));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          Task t = TaskRows.map(rs);
          out.put(t.id(), t);
        }
      }
    }
    return out;
  }

  /**
   * NOTIFYs the channels in a transaction of its own, after the data's commit, committed without
   * waiting for the WAL flush or a synchronous standby. Why not in the data's transaction:
   * PostgreSQL serializes the commits of all transactions that sent a NOTIFY with one database-wide
   * lock held through the whole commit, including the wait for a synchronous standby, which made
   * concurrent submissions queue behind each other's replication round trip (fixed-rate p99 0.4-0.7
   * s with a standby). A notification lost in a crash costs nothing: workers and waiters also poll.
   * Never throws: the data is committed, and failing the caller would report a committed write as
   * failed.
   */
  static void notifyAfterCommit(Connection c, String... channels) {
    StringBuilder sql = new StringBuilder("SELECT ");
    for (int i = 0; i < channels.length; i++) {
      sql.append(i == 0 ? "" : ", ").append("pg_notify('").append(channels[i]).append("', '')");
    }
    try (Statement st = c.createStatement()) {
      st.execute("SET LOCAL synchronous_commit = off");
      st.execute(sql.toString());
      c.commit();
    } catch (SQLException e) {
      rollbackQuietly(c);
      org.slf4j.LoggerFactory.getLogger(TaskRepository.class).debug("notify {} failed: {}", String.join(",", channels), e.toString());
    }
  }

  private static Map<UUID, Task> findAll(Connection c, Collection<UUID> ids) throws SQLException {
    Map<UUID, Task> out = new HashMap<>();
    try (PreparedStatement ps = c.prepareStatement(
        "SELECT " + TaskRows.COLUMNS + " FROM tasks WHERE id = ANY(?::uuid[])")) {
      SqlArrays.bind(c, ps, 1, uuid(ids.toArray()));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          Task t = TaskRows.map(rs);
          out.put(t.id(), t);
        }
      }
    }
    return out;
  }

  public Optional<Task> find(String tenant, UUID id) {
    return queryOne("reading task " + id,
        "SELECT " + TaskRows.COLUMNS + " FROM tasks WHERE id = ? AND tenant = ?", id, tenant);
  }

  /** The tasks of {@code ids} (any tenant), for waiters that already checked ownership. */
  public Map<UUID, Task> findAll(Collection<UUID> ids) {
    try (Connection c = db.connection()) {
      return findAll(c, ids);
    } catch (SQLException e) {
      throw DatabaseUnavailableException.translate("reading " + ids.size() + " task(s)", e);
    }
  }

  /** A page of tasks, and whether the tenant has more after its last (the page was full, by count or by bytes). */
  public record Page(List<Task> tasks, boolean more) {}

  /** Bytes a task is counted for in a page: its inline result and error, and about 300 for the rest of its object. */
  private static final String PAGE_BYTES = "coalesce(octet_length(result_json), 0) + coalesce(octet_length(error), 0) + 300";

  /** A page of the tenant's tasks in id (creation) order, after the given id, optionally by state. */
  public List<Task> list(String tenant, TaskState state, UUID after, int limit) {
    return page(tenant, state, after, limit, Long.MAX_VALUE).tasks();
  }

  /**
   * A page of the tenant's tasks in id (creation) order, after the given id, optionally by state: at
   * most {@code limit} tasks and, past the first, at most {@code maxBytes} of inline results and errors
   * (a page of 1,000 tasks with 64 KiB results each would be 64 MiB in an API server's memory). The
   * byte count runs over the first {@code limit} rows only, in the database: nothing past the page is
   * read or sent.
   */
  public Page page(String tenant, TaskState state, UUID after, int limit, long maxBytes) {
    String sql = "SELECT " + TaskRows.COLUMNS + ", total FROM (SELECT lim.*, sum(sz) OVER (ORDER BY id) AS upto,"
        + " count(*) OVER () AS total FROM (SELECT " + TaskRows.COLUMNS + ", " + PAGE_BYTES + " AS sz FROM tasks"
        + " WHERE tenant = ? AND id > ?" + (state == null ? "" : " AND state = ?") + " ORDER BY id LIMIT ?) lim) w"
        + " WHERE upto <= ? OR upto = sz ORDER BY id"; // a prefix within the bytes; the first task always
    try (Connection c = db.connection(); PreparedStatement ps = c.prepareStatement(sql)) {
      int p = 1;
      ps.setString(p++, tenant);
      ps.setObject(p++, after == null ? new UUID(0, 0) : after);
      if (state != null) ps.setString(p++, state.wireName());
      ps.setInt(p++, limit);
      ps.setLong(p, maxBytes);
      List<Task> out = new ArrayList<>();
      long total = 0;
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          total = rs.getLong("total");
          out.add(TaskRows.map(rs));
        }
      }
      return new Page(out, total == limit || out.size() < total);
    } catch (SQLException e) {
      throw DatabaseUnavailableException.translate("listing tasks", e);
    }
  }

  /**
   * Cancels a queued or running task. A running task's worker learns of it at its next heartbeat and
   * interrupts the handler; its late completion is then ignored (the lease guard no longer matches).
   */
  public Optional<Task> cancel(String tenant, UUID id) {
    return queryOne("cancelling task " + id,
        "UPDATE tasks SET state = 'cancelled', finished_at = now(), lease_token = NULL, lease_expires_at = NULL"
            + " WHERE id = ? AND tenant = ? AND state IN ('queued', 'running') RETURNING " + TaskRows.COLUMNS,
        id, tenant);
  }

  /** Re-drives a dead or cancelled task: back to queued with a fresh budget of attempts. */
  public Optional<Task> redrive(String tenant, UUID id) {
    try (Connection c = db.connection()) {
      c.setAutoCommit(false);
      Optional<Task> t;
      try (PreparedStatement ps = c.prepareStatement(
          "UPDATE tasks SET state = 'queued', attempts = 0, run_at = now(), error = NULL, finished_at = NULL,"
              + " started_at = NULL WHERE id = ? AND tenant = ? AND state IN ('dead', 'cancelled')"
              + " RETURNING " + TaskRows.COLUMNS)) {
        ps.setObject(1, id);
        ps.setString(2, tenant);
        try (ResultSet rs = ps.executeQuery()) {
          t = rs.next() ? Optional.of(TaskRows.map(rs)) : Optional.empty();
        }
      }
      c.commit();
      if (t.isPresent()) notifyAfterCommit(c, QUEUED_CHANNEL);
      return t;
    } catch (SQLException e) {
      throw DatabaseUnavailableException.translate("re-driving task " + id, e);
    }
  }

  private Optional<Task> queryOne(String what, String sql, UUID id, String tenant) {
    try (Connection c = db.connection(); PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setObject(1, id);
      ps.setString(2, tenant);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(TaskRows.map(rs)) : Optional.empty();
      }
    } catch (SQLException e) {
      throw DatabaseUnavailableException.translate(what, e);
    }
  }

  /** Deletes idempotency records older than the retention; returns how many. */
  public int pruneIdempotencyKeys(java.time.Duration retention) {
    try (Connection c = db.connection(); PreparedStatement ps = c.prepareStatement(
        "DELETE FROM idempotency_keys WHERE created_at < now() - ?::interval")) {
      ps.setString(1, retention.toSeconds() + " seconds");
      return ps.executeUpdate();
    } catch (SQLException e) {
      throw DatabaseUnavailableException.translate("pruning idempotency keys", e);
    }
  }

  static void rollbackQuietly(Connection c) {
    try {
      c.rollback();
    } catch (SQLException ignored) {
      // the connection is broken; the pool discards it
    }
  }
}
