package io.bulwark.dr;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * Sequence-numbered marker rows committed one per transaction by a background writer, each also
 * logged in marker_log (never deleted) so their commit timestamps stay readable after a DELETE.
 * Acknowledgement times are recorded client-side.
 */
final class Markers implements AutoCloseable {
  final ConcurrentSkipListMap<Integer, Instant> acked = new ConcurrentSkipListMap<>();
  private final TestCluster cluster;
  private final Thread writer;
  private volatile boolean stop;
  volatile Exception failure;

  static void create(TestCluster c) throws SQLException {
    c.sql("CREATE TABLE markers (seq int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())");
    c.sql("CREATE TABLE marker_log (seq int PRIMARY KEY)");
  }

  Markers(TestCluster cluster, int startAt) {
    this.cluster = cluster;
    this.writer = Thread.ofPlatform().name("markers").start(() -> write(startAt));
  }

  private void write(int seq) {
    try (Connection c = cluster.connect();
        PreparedStatement ps = c.prepareStatement(
            "WITH l AS (INSERT INTO marker_log VALUES (?)) INSERT INTO markers (seq) VALUES (?)")) {
      while (!stop) {
        ps.setInt(1, seq);
        ps.setInt(2, seq);
        ps.executeUpdate();
        acked.put(seq, Instant.now());
        seq++;
        Thread.sleep(5);
      }
    } catch (SQLException | InterruptedException e) {
      if (!stop) failure = e;
    }
  }

  void awaitCount(int n) throws InterruptedException {
    long deadline = System.nanoTime() + 60_000_000_000L;
    while (acked.size() < n) {
      if (failure != null) throw new AssertionError("marker writer failed", failure);
      if (System.nanoTime() > deadline) throw new AssertionError("only " + acked.size() + " markers in 60 s");
      Thread.sleep(10);
    }
  }

  /** Commit time of every marker, from marker_log. */
  static Map<Integer, Instant> commitTimes(Connection c) throws SQLException {
    Map<Integer, Instant> out = new TreeMap<>();
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT seq, pg_xact_commit_timestamp(xmin) FROM marker_log")) {
      while (rs.next()) out.put(rs.getInt(1), rs.getTimestamp(2).toInstant());
    }
    return out;
  }

  static TreeSet<Integer> seqs(Connection c, String table) throws SQLException {
    TreeSet<Integer> out = new TreeSet<>();
    try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT seq FROM " + table)) {
      while (rs.next()) out.add(rs.getInt(1));
    }
    return out;
  }

  @Override
  public void close() throws InterruptedException {
    stop = true;
    writer.join();
  }
}
