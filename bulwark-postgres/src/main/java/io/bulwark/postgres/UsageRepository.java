package io.bulwark.postgres;

import static io.bulwark.postgres.SqlArrays.int8;
import static io.bulwark.postgres.SqlArrays.text;
import static io.bulwark.postgres.SqlArrays.timestamptz;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * Per-tenant, per-minute usage statistics. API servers count requests in memory and flush deltas here
 * in batches ({@link #add}); workers add task outcomes inside their completion transaction, so those
 * counts are exact.
 */
public final class UsageRepository {
  /** One tenant-minute of counts, as a delta to add or as a stored row. */
  public record Counts(
      String tenant, Instant minute, long requests, long tasksSubmitted, long tasksSucceeded, long tasksDead,
      long bytesIn, long bytesOut, long bytesStored) {}

  /** A tenant's usage: per minute since a time, plus all-time totals. */
  public record Report(List<Counts> minutes, Counts totals) {}

  /** Into usage_minutes, adding to the counts of a tenant-minute that has a row already. */
  private static final String INSERT_ADDING =
      "INSERT INTO usage_minutes AS m (tenant, minute, requests, tasks_submitted, tasks_succeeded, tasks_dead,"
          + " bytes_in, bytes_out, bytes_stored) %s"
          + " ON CONFLICT (tenant, minute) DO UPDATE SET requests = m.requests + excluded.requests,"
          + " tasks_submitted = m.tasks_submitted + excluded.tasks_submitted,"
          + " tasks_succeeded = m.tasks_succeeded + excluded.tasks_succeeded,"
          + " tasks_dead = m.tasks_dead + excluded.tasks_dead,"
          + " bytes_in = m.bytes_in + excluded.bytes_in, bytes_out = m.bytes_out + excluded.bytes_out,"
          + " bytes_stored = m.bytes_stored + excluded.bytes_stored";

  private static final String UPSERT = INSERT_ADDING.formatted(
      "SELECT * FROM unnest(?::text[], ?::timestamptz[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[],"
          + " ?::bigint[])");

  /**
   * How long minutes keep a row each. Older ones are rolled up into one row per tenant and UTC day
   * (dated at the day's first minute): the API shows the last 24 h per minute and all-time totals,
   * which the roll-up keeps exact, and the table stops growing by a row per tenant-minute forever.
   */
  public static final Duration MINUTE_RETENTION = Duration.ofDays(7);

  private static final String ROLL_UP =
      "WITH old AS (DELETE FROM usage_minutes WHERE minute < ? AND minute <> date_trunc('day', minute, 'UTC') RETURNING *) "
          + INSERT_ADDING.formatted("SELECT tenant, date_trunc('day', minute, 'UTC'), sum(requests)::bigint,"
              + " sum(tasks_submitted)::bigint, sum(tasks_succeeded)::bigint, sum(tasks_dead)::bigint, sum(bytes_in)::bigint,"
              + " sum(bytes_out)::bigint, sum(bytes_stored)::bigint FROM old GROUP BY 1, 2");

  private final Database db;

  public UsageRepository(Database db) {
    this.db = db;
  }

  /** Adds deltas (one per tenant-minute; the caller merges duplicates) in one statement. */
  public void add(Collection<Counts> deltas) {
    if (deltas.isEmpty()) return;
    try (Connection c = db.connection()) {
      upsert(c, new ArrayList<>(deltas));
    } catch (SQLException e) {
      throw DatabaseUnavailableException.translate("recording usage", e);
    }
  }

  /** Adds outcomes inside a completion's or a sweep's transaction: per tenant {succeeded, dead, bytes stored (a delta)}. */
  static void addOutcomes(Connection c, Instant minute, Map<String, long[]> succeededDeadStored) throws SQLException {
    List<Counts> deltas = new ArrayList<>();
    succeededDeadStored.forEach((tenant, v) -> deltas.add(new Counts(tenant, minute, 0, 0, v[0], v[1], 0, 0, v[2])));
    deltas.sort(java.util.Comparator.comparing(Counts::tenant)); // stable lock order across writers
    upsert(c, deltas);
  }

  private static void upsert(Connection c, List<Counts> d) throws SQLException {
    int n = d.size();
    Object[] tenants = new Object[n], minutes = new Object[n], req = new Object[n], sub = new Object[n],
        ok = new Object[n], dead = new Object[n], in = new Object[n], out = new Object[n], stored = new Object[n];
    for (int i = 0; i < n; i++) {
      Counts x = d.get(i);
      tenants[i] = x.tenant();
      minutes[i] = TaskRows.timestamptzElement(x.minute());
      req[i] = x.requests();
      sub[i] = x.tasksSubmitted();
      ok[i] = x.tasksSucceeded();
      dead[i] = x.tasksDead();
      in[i] = x.bytesIn();
      out[i] = x.bytesOut();
      stored[i] = x.bytesStored();
    }
    try (PreparedStatement ps = c.prepareStatement(UPSERT)) {
      SqlArrays.bind(c, ps, 1, text(tenants), timestamptz(minutes), int8(req), int8(sub), int8(ok), int8(dead),
          int8(in), int8(out), int8(stored));
      ps.executeUpdate();
    }
  }

  /**
   * Rolls the minutes before {@code before} up into one row per tenant and UTC day, in one
   * statement (so totals never change, and concurrent roll-ups each move only the rows they
   * deleted); returns how many day rows it wrote.
   */
  public int rollUp(Instant before) {
    try (Connection c = db.connection(); PreparedStatement ps = c.prepareStatement(ROLL_UP)) {
      ps.setTimestamp(1, Timestamp.from(before));
      return ps.executeUpdate();
    } catch (SQLException e) {
      throw DatabaseUnavailableException.translate("rolling up usage minutes", e);
    }
  }

  public Report report(String tenant, Instant since) {
    String cols = "requests, tasks_submitted, tasks_succeeded, tasks_dead, bytes_in, bytes_out, bytes_stored";
    try (Connection c = db.connection()) {
      List<Counts> minutes = new ArrayList<>();
      try (PreparedStatement ps = c.prepareStatement(
          "SELECT minute, " + cols + " FROM usage_minutes WHERE tenant = ? AND minute >= ? ORDER BY minute")) {
        ps.setString(1, tenant);
        ps.setTimestamp(2, Timestamp.from(since));
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) minutes.add(counts(tenant, rs.getTimestamp(1).toInstant(), rs));
        }
      }
      try (PreparedStatement ps = c.prepareStatement(
          "SELECT coalesce(sum(requests),0), coalesce(sum(tasks_submitted),0), coalesce(sum(tasks_succeeded),0),"
              + " coalesce(sum(tasks_dead),0), coalesce(sum(bytes_in),0), coalesce(sum(bytes_out),0), greatest(coalesce(sum(bytes_stored),0),0)"
              + " FROM usage_minutes WHERE tenant = ?")) {
        ps.setString(1, tenant);
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          return new Report(minutes, new Counts(tenant, null, rs.getLong(1), rs.getLong(2), rs.getLong(3),
              rs.getLong(4), rs.getLong(5), rs.getLong(6), rs.getLong(7)));
        }
      }
    } catch (SQLException e) {
      throw DatabaseUnavailableException.translate("reading usage of tenant " + tenant, e);
    }
  }

  private static Counts counts(String tenant, Instant minute, ResultSet rs) throws SQLException {
    return new Counts(tenant, minute, rs.getLong(2), rs.getLong(3), rs.getLong(4), rs.getLong(5), rs.getLong(6),
        rs.getLong(7), rs.getLong(8));
  }
}
