package io.bulwark.postgres;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * What the primary knows about its standbys and its WAL archiving, for metrics: how many standbys
 * stream, how many are synchronous (1 means every acknowledged commit is also on a standby), the
 * largest standby lag in bytes, and PostgreSQL's own archiver state ({@code pg_stat_archiver}: the
 * first hop of archiving, into the spool).
 */
public record ReplicationStats(long streamingStandbys, long synchronousStandbys, long maxLagBytes,
    double secondsSinceLastArchived, long archiveFailures) {

  public static final ReplicationStats UNKNOWN = new ReplicationStats(0, 0, 0, -1, 0);

  public static ReplicationStats read(Database db) {
    try (Connection c = db.connection(); PreparedStatement ps = c.prepareStatement(
        "SELECT (SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'),"
            + " (SELECT count(*) FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum')),"
            + " (SELECT coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)), 0) FROM pg_stat_replication),"
            + " (SELECT coalesce(extract(epoch FROM now() - last_archived_time), -1) FROM pg_stat_archiver),"
            + " (SELECT failed_count FROM pg_stat_archiver)")) {
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return new ReplicationStats(rs.getLong(1), rs.getLong(2), rs.getLong(3), rs.getDouble(4), rs.getLong(5));
      }
    } catch (SQLException e) {
      throw DatabaseUnavailableException.translate("reading replication statistics", e);
    }
  }
}
