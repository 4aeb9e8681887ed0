package io.bulwark.postgres;

import static io.bulwark.postgres.SqlArrays.bool;
import static io.bulwark.postgres.SqlArrays.int4;
import static io.bulwark.postgres.SqlArrays.int8;
import static io.bulwark.postgres.SqlArrays.text;
import static io.bulwark.postgres.SqlArrays.uuid;

import io.bulwark.core.blob.BlobRef;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The worker side of the tasks table, used as a queue. Claims take a batch with
 * {@code FOR UPDATE SKIP LOCKED} and set a lease on the database clock; completions, heartbeats and
 * releases are batched, and each is guarded by state, lease token and attempt so that a late or
 * duplicate write (from a worker that lost its lease, or after a cancel) changes nothing.
 *
 * <p>The guards name only the lease token and attempt, never {@code state = 'running'}: a token is
 * set exactly while a task runs (a CHECK constraint enforces it), and a state predicate would lure
 * the planner onto the partial lease index whenever a queue table's volatile statistics say few
 * tasks are running, turning a primary-key lookup per row into a scan of every running task (seen:
 * 3.3 s for one 500-row completion batch). Claims and rescues update {@code id = ANY(ARRAY(...))}
 * for the same reason: a primary-key lookup whatever the statistics say.
 */
public final class TaskQueue {
  /** Channel notified when tasks reach a terminal state; API servers LISTEN on it for long polls. */
  public static final String DONE_CHANNEL = "bulwark_task_done";

  private final Database db;

  public TaskQueue(Database db) {
    this.db = db;
  }

  /** At most this many tenants share one claim; the next claim starts after the last of them. */
  static final int MAX_TENANTS_PER_CLAIM = 64;

  /**
   * A recursive CTE {@code name(tenant, n)}: the tenants with queued tasks in name order, one index
   * probe of tasks_tenant_ready_idx each (a skip scan), from the first matching {@code anchor} (an extra
   * condition, or "") while {@code more} holds.
   */
  private static String skipScan(String name, String anchor, String more) {
    return " " + name + "(tenant, n) AS ((SELECT tenant, 1 FROM tasks WHERE state = 'queued'" + anchor + " ORDER BY tenant LIMIT 1)"
        + "  UNION ALL SELECT (SELECT q.tenant FROM tasks q WHERE q.state = 'queued' AND q.tenant > " + name + ".tenant"
        + "  ORDER BY q.tenant LIMIT 1), " + name + ".n + 1 FROM " + name + " WHERE " + name + ".tenant IS NOT NULL AND " + more + ")";
  }

  private static final String CLAIM_SET = "UPDATE tasks t SET state = 'running', attempts = t.attempts + 1, lease_token = ?,"
      + " lease_expires_at = now() + ? * interval '1 millisecond', started_at = now(), worker = ?";
  private static final String CLAIM_RETURNING = " RETURNING t.id, t.tenant, t.type, t.attempts, t.max_attempts, t.timeout_seconds,"
      + " t.input_json, t.input_blob, t.input_size, t.input_sha256, t.input_content_type";
  /**
   * The fair claim, one statement: the tenants with queued tasks in name order after a cursor (a) and
   * then from the first name round to the cursor (b), found by skip scans of tasks_tenant_ready_idx (one
   * index probe per tenant); up to a limit of them (ts), each with an equal share of the batch, the
   * first ones the remainder (sh); and each tenant's share taken in its own order (priority, run_at).
   */
  private static final String CLAIM_FAIR = "WITH RECURSIVE"
      + skipScan("a", " AND tenant > ?", "a.n < ?") + ","
      + skipScan("b", "", "b.tenant < ? AND b.n < ? - (SELECT count(*) FROM a WHERE a.tenant IS NOT NULL)") + ","
      + " ts AS (SELECT tenant, row_number() OVER (ORDER BY part, n) AS k FROM (SELECT tenant, 0 AS part, n FROM a"
      + "  WHERE tenant IS NOT NULL UNION ALL SELECT tenant, 1, n FROM b WHERE tenant IS NOT NULL AND tenant <= ?) x"
      + "  ORDER BY part, n LIMIT ?),"
      + " sh AS (SELECT tenant, ? / count(*) OVER () + CASE WHEN k <= ? % count(*) OVER () THEN 1 ELSE 0 END AS share FROM ts) "
      + CLAIM_SET
      + " WHERE t.id = ANY(ARRAY(SELECT c.id FROM sh, LATERAL"
      + " (SELECT id FROM tasks WHERE state = 'queued' AND tenant = sh.tenant AND run_at <= now()"
      + "  ORDER BY priority DESC, run_at, id LIMIT sh.share FOR UPDATE SKIP LOCKED) c))" + CLAIM_RETURNING;
  /**
   * The slots the shares left (a tenant had fewer ready tasks than its share): taken from the tenants
   * that had tasks, in turn order, each in its own order, until the slots are filled (the outer LIMIT
   * stops the nested loop there, so no more rows are locked than are claimed).
   */
  private static final String CLAIM_REST = CLAIM_SET
      + " WHERE t.id = ANY(ARRAY(SELECT c.id FROM unnest(?::text[]) AS s(tenant), LATERAL"
      + " (SELECT id FROM tasks WHERE state = 'queued' AND tenant = s.tenant AND run_at <= now()"
      + "  ORDER BY priority DESC, run_at, id LIMIT ? FOR UPDATE SKIP LOCKED) c LIMIT ?))" + CLAIM_RETURNING;
  /** The tenants with queued tasks after a cursor, in name order, up to a limit: where a claim that got nothing moves on to. */
  private static final String TENANTS_AFTER = "WITH RECURSIVE" + skipScan("a", " AND tenant > ?", "a.n < ?")
      + " SELECT tenant FROM a WHERE tenant IS NOT NULL ORDER BY n";

  /** Where the next claim's look at the tenants starts (after this name); "" is before every name. */
  private final AtomicReference<String> tenantCursor = new AtomicReference<>("");

  /**
   * Claims up to {@code max} ready tasks, fairly across tenants: when several tenants have tasks
   * queued, each of (up to {@value #MAX_TENANTS_PER_CLAIM} of) them gets an equal share of the batch,
   * taken in its own order (highest priority first, then oldest run_at), so a tenant's priorities
   * and run_at order only its own tasks and no tenant can starve the others. The tenants taking part
   * rotate from one claim to the next (a worker claiming one task at a time takes the tenants in
   * turn). Slots a share left unused (a tenant with fewer ready tasks than its share) go to the
   * tenants that had more, in turn.
   */
  public List<ClaimedTask> claim(String workerId, int max, Duration lease) {
    UUID token = UUID.randomUUID();
    String cursor = tenantCursor.get();
    int tenants = Math.min(max, MAX_TENANTS_PER_CLAIM);
    try (Connection c = db.connection()) {
      c.setAutoCommit(false);
      relaxCommit(c);
      List<ClaimedTask> out = new ArrayList<>();
      try (PreparedStatement ps = c.prepareStatement(CLAIM_FAIR)) {
        ps.setString(1, cursor);
        ps.setInt(2, tenants);
        ps.setString(3, cursor);
        ps.setInt(4, cursor.isEmpty() ? 0 : tenants); // from the start only to come round to the cursor
        ps.setString(5, cursor);
        ps.setInt(6, tenants);
        ps.setInt(7, max);
        ps.setInt(8, max);
        ps.setObject(9, token);
        ps.setLong(10, lease.toMillis());
        ps.setString(11, workerId);
        out.addAll(read(ps, token));
      }
      if (out.isEmpty()) {
        // nothing ready among these tenants (their tasks are due later, or held by other workers): the
        // next claim looks at the tenants after them
        tenantCursor.set(tenantsAfter(c, cursor, tenants));
      } else {
        if (out.size() < max && someShareFilled(out, max, tenants)) {
          out.addAll(claimRest(c, token, workerId, lease, cursor, out, max - out.size()));
        }
        tenantCursor.set(lastInTurn(cursor, out));
      }
      c.commit();
      return out;
    } catch (SQLException e) {
      throw DatabaseUnavailableException.translate("claiming tasks for " + workerId, e);
    }
  }

  /**
   * Whether a tenant may have ready tasks left past its share: one claimed at least the smallest share
   * a claim over up to {@code tenants} tenants gives ({@code max / tenants}). A tenant that got less
   * than its share had no more ready tasks (those locked by another claim are skipped by the rest
   * too), so when none got that much, the second statement would find nothing: at low load, where a
   * claim takes a task or two of a batch of hundreds, that is every claim.
   */
  static boolean someShareFilled(List<ClaimedTask> claimed, int max, int tenants) {
    int smallestShare = max / tenants;
    Map<String, Integer> byTenant = new java.util.HashMap<>();
    for (ClaimedTask t : claimed) {
      if (byTenant.merge(t.tenant(), 1, Integer::sum) >= smallestShare) return true;
    }
    return false;
  }

  /** Fills the slots the shares left from the tenants that had tasks, in turn order. */
  private static List<ClaimedTask> claimRest(Connection c, UUID token, String workerId, Duration lease, String cursor,
      List<ClaimedTask> claimed, int slots) throws SQLException {
    List<String> turn = claimed.stream().map(ClaimedTask::tenant).distinct()
        .sorted(java.util.Comparator.comparing((String t) -> t.compareTo(cursor) <= 0).thenComparing(t -> t)).toList();
    try (PreparedStatement ps = c.prepareStatement(CLAIM_REST)) {
      setClaim(ps, token, workerId, lease);
      ps.setArray(4, c.createArrayOf("text", turn.toArray()));
      ps.setInt(5, slots);
      ps.setInt(6, slots);
      return read(ps, token);
    }
  }

  /** The cursor after the next {@code limit} tenants with queued tasks; "" (the start) when fewer are left. */
  private static String tenantsAfter(Connection c, String cursor, int limit) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(TENANTS_AFTER)) {
      ps.setString(1, cursor);
      ps.setInt(2, limit);
      List<String> next = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) next.add(rs.getString(1));
      }
      return next.size() < limit ? "" : next.get(next.size() - 1);
    }
  }

  /**
   * The last tenant served, in turn order from the cursor (names after it first, then from the start):
   * the next claim starts after it.
   */
  private static String lastInTurn(String cursor, List<ClaimedTask> claimed) {
    String wrapped = null;
    String after = null;
    for (ClaimedTask t : claimed) {
      String name = t.tenant();
      if (name.compareTo(cursor) > 0) {
        if (after == null || name.compareTo(after) > 0) after = name;
      } else if (wrapped == null || name.compareTo(wrapped) > 0) {
        wrapped = name;
      }
    }
    return wrapped != null ? wrapped : after;
  }

  private static void setClaim(PreparedStatement ps, UUID token, String workerId, Duration lease) throws SQLException {
    ps.setObject(1, token);
    ps.setLong(2, lease.toMillis());
    ps.setString(3, workerId);
  }

  /**
   * Commits this transaction without waiting for its WAL to reach disk. Only for writes whose loss in a
   * database crash loses nothing: a lost claim leaves its task queued (it runs again: at-least-once),
   * a lost heartbeat leaves a lease shorter. Submissions and completions always commit synchronously,
   * and the server's own settings stay durable.
   */
  private static void relaxCommit(Connection c) throws SQLException {
    try (var st = c.createStatement()) {
      st.execute("SET LOCAL synchronous_commit = off");
    }
  }

  private static List<ClaimedTask> read(PreparedStatement ps, UUID token) throws SQLException {
    List<ClaimedTask> out = new ArrayList<>();
    try (ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        String blob = rs.getString(8);
        out.add(new ClaimedTask(
            rs.getObject(1, UUID.class), rs.getString(2), rs.getString(3), rs.getInt(4), rs.getInt(5),
            rs.getInt(6), token, rs.getString(7),
            blob == null ? null : new BlobRef(blob, rs.getLong(9), rs.getString(10)), rs.getString(11)));
      }
    }
    return out;
  }

  /** The effect of a completion batch. */
  public record CompletionResult(int applied, int succeeded, int retried, int dead, int released, int ignored) {}

  /**
   * Writes a batch of attempt outcomes in one transaction, with the tenants' usage counters and a
   * notification for long-polling clients. Outcomes whose lease no longer matches are ignored.
   */
  public CompletionResult complete(List<Completion> batch) {
    List<Completion.Success> ok = new ArrayList<>();
    List<Completion.Failure> failed = new ArrayList<>();
    List<Completion.Release> released = new ArrayList<>();
    for (Completion c : batch) {
      switch (c) {
        case Completion.Success s -> ok.add(s);
        case Completion.Failure f -> failed.add(f);
        case Completion.Release r -> released.add(r);
      }
    }
    try (Connection c = db.connection()) {
      c.setAutoCommit(false);
      try {
        if (!batch.isEmpty()) lockInIdOrder(c, batch.stream().map(o -> o.task().id()).toArray());
        Map<String, long[]> usage = new HashMap<>(); // tenant -> {succeeded, dead, bytes stored}
        int succeeded = ok.isEmpty() ? 0 : writeSuccesses(c, ok, usage);
        int[] retriedDead = failed.isEmpty() ? new int[2] : writeFailures(c, failed, usage);
        int rel = released.isEmpty() ? 0 : writeReleases(c, released);
        if (!usage.isEmpty()) UsageRepository.addOutcomes(c, Instant.now().truncatedTo(ChronoUnit.MINUTES), usage);
        c.commit();
        boolean done = succeeded + retriedDead[1] > 0;
        if (done && rel > 0) TaskRepository.notifyAfterCommit(c, DONE_CHANNEL, TaskRepository.QUEUED_CHANNEL);
        else if (done) TaskRepository.notifyAfterCommit(c, DONE_CHANNEL);
        else if (rel > 0) TaskRepository.notifyAfterCommit(c, TaskRepository.QUEUED_CHANNEL);
        int applied = succeeded + retriedDead[0] + retriedDead[1] + rel;
        return new CompletionResult(applied, succeeded, retriedDead[0], retriedDead[1], rel, batch.size() - applied);
      } catch (SQLException | RuntimeException e) {
        TaskRepository.rollbackQuietly(c);
        throw e;
      }
    } catch (SQLException e) {
      throw DatabaseUnavailableException.translate("completing " + batch.size() + " task(s)", e);
    }
  }

  private static int writeSuccesses(Connection c, List<Completion.Success> ok, Map<String, long[]> usage)
      throws SQLException {
    int n = ok.size();
    Object[] ids = new Object[n], tokens = new Object[n], attempts = new Object[n], jsons = new Object[n],
        blobs = new Object[n], sizes = new Object[n], shas = new Object[n], cts = new Object[n];
    for (int i = 0; i < n; i++) {
      Completion.Success s = ok.get(i);
      ids[i] = s.task().id();
      tokens[i] = s.task().leaseToken();
      attempts[i] = s.task().attempt();
      jsons[i] = s.resultJson();
      blobs[i] = s.resultBlob() == null ? null : s.resultBlob().key();
      sizes[i] = s.resultBlob() == null ? null : s.resultBlob().size();
      shas[i] = s.resultBlob() == null ? null : s.resultBlob().sha256();
      cts[i] = s.contentType();
    }
    int count = 0;
    try (PreparedStatement ps = c.prepareStatement(
        "UPDATE tasks t SET state = 'succeeded', result_json = u.rj, result_blob = u.rb, result_size = u.rs,"
            + " result_sha256 = u.rh, result_content_type = u.ct, error = NULL, finished_at = now(),"
            + " lease_token = NULL, lease_expires_at = NULL"
            + " FROM unnest(?::uuid[], ?::uuid[], ?::int[], ?::text[], ?::text[], ?::bigint[], ?::text[], ?::text[])"
            + " AS u(id, token, attempt, rj, rb, rs, rh, ct)"
            + " WHERE t.id = u.id AND t.lease_token = u.token AND t.attempts = u.attempt"
            + " RETURNING t.tenant, coalesce(t.result_size, octet_length(t.result_json), 0)")) {
      SqlArrays.bind(c, ps, 1, uuid(ids), uuid(tokens), int4(attempts), text(jsons), text(blobs), int8(sizes),
          text(shas), text(cts));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          long[] u = usage.computeIfAbsent(rs.getString(1), k -> new long[3]);
          u[0]++;
          u[2] += rs.getLong(2); // the result is stored now
          count++;
        }
      }
    }
    return count;
  }

  /** Returns {retried, dead}. */
  private static int[] writeFailures(Connection c, List<Completion.Failure> failed, Map<String, long[]> usage)
      throws SQLException {
    int n = failed.size();
    Object[] ids = new Object[n], tokens = new Object[n], attempts = new Object[n], errors = new Object[n],
        delays = new Object[n], permanent = new Object[n];
    for (int i = 0; i < n; i++) {
      Completion.Failure f = failed.get(i);
      ids[i] = f.task().id();
      tokens[i] = f.task().leaseToken();
      attempts[i] = f.task().attempt();
      errors[i] = truncate(f.error(), 4000);
      delays[i] = f.retryDelay().toMillis();
      permanent[i] = f.permanent();
    }
    int[] out = new int[2];
    try (PreparedStatement ps = c.prepareStatement(
        "UPDATE tasks t SET"
            + " state = CASE WHEN u.permanent OR t.attempts >= t.max_attempts THEN 'dead' ELSE 'queued' END,"
            + " run_at = CASE WHEN u.permanent OR t.attempts >= t.max_attempts THEN t.run_at"
            + "               ELSE now() + u.delay_ms * interval '1 millisecond' END,"
            + " finished_at = CASE WHEN u.permanent OR t.attempts >= t.max_attempts THEN now() END,"
            + " error = u.error, lease_token = NULL, lease_expires_at = NULL"
            + " FROM unnest(?::uuid[], ?::uuid[], ?::int[], ?::text[], ?::bigint[], ?::boolean[])"
            + " AS u(id, token, attempt, error, delay_ms, permanent)"
            + " WHERE t.id = u.id AND t.lease_token = u.token AND t.attempts = u.attempt"
            + " RETURNING t.tenant, t.state")) {
      SqlArrays.bind(c, ps, 1, uuid(ids), uuid(tokens), int4(attempts), text(errors), int8(delays), bool(permanent));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          if ("dead".equals(rs.getString(2))) {
            usage.computeIfAbsent(rs.getString(1), k -> new long[3])[1]++;
            out[1]++;
          } else {
            out[0]++;
          }
        }
      }
    }
    return out;
  }

  private static int writeReleases(Connection c, List<Completion.Release> released) throws SQLException {
    int n = released.size();
    Object[] ids = new Object[n], tokens = new Object[n], attempts = new Object[n];
    for (int i = 0; i < n; i++) {
      ids[i] = released.get(i).task().id();
      tokens[i] = released.get(i).task().leaseToken();
      attempts[i] = released.get(i).task().attempt();
    }
    try (PreparedStatement ps = c.prepareStatement(
        "UPDATE tasks t SET state = 'queued', attempts = t.attempts - 1, run_at = now(), lease_token = NULL,"
            + " lease_expires_at = NULL, worker = NULL"
            + " FROM unnest(?::uuid[], ?::uuid[], ?::int[]) AS u(id, token, attempt)"
            + " WHERE t.id = u.id AND t.lease_token = u.token AND t.attempts = u.attempt")) {
      SqlArrays.bind(c, ps, 1, uuid(ids), uuid(tokens), int4(attempts));
      return ps.executeUpdate();
    }
  }

  /**
   * Locks the rows of these tasks in id order. Completions and heartbeats each touch several running
   * tasks, and run concurrently in a worker (its completer and its heartbeat timer share tasks);
   * taking rows in one global order first means they can wait for each other but never deadlock.
   * Without it a completion (successes, then failures) and a heartbeat (in its own order) could each
   * hold a row the other needed, and PostgreSQL aborted one of them after deadlock_timeout.
   */
  private static void lockInIdOrder(Connection c, Object[] ids) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(
        "SELECT 1 FROM tasks WHERE id = ANY(?::uuid[]) ORDER BY id FOR NO KEY UPDATE")) {
      SqlArrays.bind(c, ps, 1, uuid(ids));
      ps.executeQuery().close();
    }
  }

  /**
   * Extends the leases this worker still holds and returns the ids it holds. A task missing from the
   * answer was cancelled or rescued: its handler should be stopped.
   */
  public Set<UUID> heartbeat(List<ClaimedTask> held, Duration lease) {
    Set<UUID> still = new HashSet<>();
    if (held.isEmpty()) return still;
    Object[] ids = held.stream().map(ClaimedTask::id).toArray();
    Object[] tokens = held.stream().map(ClaimedTask::leaseToken).toArray();
    Object[] attempts = held.stream().map(ClaimedTask::attempt).toArray();
    try (Connection c = db.connection()) {
      c.setAutoCommit(false);
      relaxCommit(c);
      lockInIdOrder(c, ids);
      try (PreparedStatement ps = c.prepareStatement(
          "UPDATE tasks t SET lease_expires_at = now() + ? * interval '1 millisecond'"
              + " FROM unnest(?::uuid[], ?::uuid[], ?::int[]) AS u(id, token, attempt)"
              + " WHERE t.id = u.id AND t.lease_token = u.token AND t.attempts = u.attempt"
              + " RETURNING t.id")) {
        ps.setLong(1, lease.toMillis());
        SqlArrays.bind(c, ps, 2, uuid(ids), uuid(tokens), int4(attempts));
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) still.add(rs.getObject(1, UUID.class));
        }
      }
      c.commit();
      return still;
    } catch (SQLException e) {
      throw DatabaseUnavailableException.translate("heartbeat of " + held.size() + " lease(s)", e);
    }
  }

  /**
   * Puts running tasks whose lease expired (their worker died or hung) back in the queue, or makes
   * them dead when they have used all their attempts. Returns {rescued, dead}.
   */
  public int[] rescueExpired(int limit) {
    try (Connection c = db.connection()) {
      c.setAutoCommit(false);
      int[] out = new int[2];
      Map<String, long[]> usage = new HashMap<>();
      try (PreparedStatement ps = c.prepareStatement(
          "UPDATE tasks t SET"
              + " state = CASE WHEN t.attempts >= t.max_attempts THEN 'dead' ELSE 'queued' END,"
              + " finished_at = CASE WHEN t.attempts >= t.max_attempts THEN now() END,"
              + " run_at = now(), lease_token = NULL, lease_expires_at = NULL,"
              + " error = 'lease expired: worker ' || coalesce(t.worker, '?') || ' stopped heartbeating during attempt '"
              + "   || t.attempts"
              + " WHERE t.id = ANY(ARRAY(SELECT id FROM tasks WHERE state = 'running' AND lease_expires_at < now()"
              + "       ORDER BY lease_expires_at LIMIT ? FOR UPDATE SKIP LOCKED))"
              + " RETURNING t.tenant, t.state")) {
        ps.setInt(1, limit);
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            if ("dead".equals(rs.getString(2))) {
              out[1]++;
              usage.computeIfAbsent(rs.getString(1), k -> new long[3])[1]++;
            } else {
              out[0]++;
            }
          }
        }
      }
      if (!usage.isEmpty()) UsageRepository.addOutcomes(c, Instant.now().truncatedTo(ChronoUnit.MINUTES), usage);
      c.commit();
      if (out[0] > 0) TaskRepository.notifyAfterCommit(c, TaskRepository.QUEUED_CHANNEL);
      return out;
    } catch (SQLException e) {
      throw DatabaseUnavailableException.translate("rescuing expired leases", e);
    }
  }

  /** Queue depth and age, for metrics. */
  public record Stats(long ready, long scheduled, long running, double oldestReadyAgeSeconds) {}

  public Stats stats() {
    try (Connection c = db.connection(); PreparedStatement ps = c.prepareStatement(
        "SELECT count(*) FILTER (WHERE state = 'queued' AND run_at <= now()),"
            + " count(*) FILTER (WHERE state = 'queued' AND run_at > now()),"
            + " count(*) FILTER (WHERE state = 'running'),"
            + " coalesce(extract(epoch FROM now() - min(run_at) FILTER (WHERE state = 'queued' AND run_at <= now())), 0)"
            + " FROM tasks WHERE state IN ('queued', 'running')")) {
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return new Stats(rs.getLong(1), rs.getLong(2), rs.getLong(3), rs.getDouble(4));
      }
    } catch (SQLException e) {
      throw DatabaseUnavailableException.translate("reading queue statistics", e);
    }
  }

  private static String truncate(String s, int max) {
    if (s == null) return null;
    return s.length() <= max ? s : s.substring(0, max) + "…";
  }
}
