package io.bulwark.dr;

import io.bulwark.core.io.Fs;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.bulwark.core.blob.BlobStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Proves the repository restores: the newest backup plus all archived WAL into a scratch directory,
 * started, then every table of every database read in full (a sequential scan reads every page, and
 * with data checksums on a damaged page fails the read), {@code pg_stat_database.checksum_failures}
 * must be 0, and, when the live primary is reachable, the number of tasks created up to a minute
 * before the restored cluster's last transaction must equal the live count. The scratch directory is
 * deleted afterwards, pass or fail.
 */
public final class BackupVerifier {
  private static final Logger log = LoggerFactory.getLogger(BackupVerifier.class);
  /** Tasks created this long before the restore point are certainly committed by then. */
  static final Duration TASK_COUNT_MARGIN = Duration.ofMinutes(1);

  /** The outcome of one verification; {@code ok} false carries the reason in {@code error}. */
  public record Result(boolean ok, Instant at, String backup, Instant restoredTo, Duration duration, long restoredBytes,
      double megabytesPerSecond, Map<String, Long> rowCounts, long checksumFailures, String taskCheck, String error) {}

  private BackupVerifier() {}

  /** As `bulwark db verify --json` writes a result: ISO-8601 instants and durations. */
  private static final ObjectMapper JSON = new ObjectMapper().registerModule(new JavaTimeModule())
      .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS).disable(SerializationFeature.WRITE_DURATIONS_AS_TIMESTAMPS);

  /** Keeps {@code r} in {@code file} (durably), so the last verification outlives the process that ran it. */
  public static void save(Result r, Path file) {
    try {
      Fs.writeAtomically(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(r));
    } catch (java.io.IOException e) {
      log.warn("could not record the verification result in {}: {}", file, e.toString());
    }
  }

  /** The result {@link #save} kept in {@code file}; empty if there is none or it cannot be read (with a warning). */
  public static Optional<Result> load(Path file) {
    if (!Files.exists(file)) return Optional.empty();
    try {
      return Optional.of(JSON.readValue(Files.readAllBytes(file), Result.class));
    } catch (java.io.IOException e) {
      log.warn("ignoring the recorded verification result in {}: {}", file, e.toString());
      return Optional.empty();
    }
  }

  /**
   * @param scratch an unused path for the scratch cluster (deleted before and after)
   * @param live the live primary, for the task-count comparison; null to skip it
   */
  public static Result verify(BlobStore store, Path scratch, String password, Path binariesDir, PrimaryAccess live) {
    long began = System.nanoTime();
    Instant at = Instant.now();
    Fs.deleteQuietly(scratch);
    Map<String, Long> counts = new LinkedHashMap<>();
    long[] failures = {0};
    String[] taskCheck = {"skipped"};
    try {
      PointInTimeRestore.Result r = PointInTimeRestore.run(store,
          new PointInTimeRestore.Request(Optional.empty(), scratch, password, binariesDir, false),
          (pg, c) -> {
            failures[0] = checksumFailures(c);
            for (String db : databases(c)) {
              try (Connection dc = DriverManager.getConnection(pg.jdbcUrl(db), pg.user(), password)) {
                counts.putAll(countRows(dc, db));
              }
            }
            taskCheck[0] = compareTasks(pg.jdbcUrl("bulwark"), pg.user(), password, live, c);
          });
      Duration took = Duration.ofNanos(System.nanoTime() - began);
      boolean ok = failures[0] == 0 && !taskCheck[0].startsWith("MISMATCH");
      String error = failures[0] != 0 ? failures[0] + " data checksum failures" : ok ? null : taskCheck[0];
      Result result = new Result(ok, at, r.backup(), r.lastTransaction(), took, r.dataBytes() + r.walBytes(),
          r.megabytesPerSecond(), counts, failures[0], taskCheck[0], error);
      log.info("verification {}: backup {} restored to {} in {} s ({} MB/s), {} tables, {} rows, tasks {}",
          ok ? "passed" : "FAILED: " + error, r.backup(), r.lastTransaction(), took.toSeconds(),
          String.format("%.0f", r.megabytesPerSecond()), counts.size(), counts.values().stream().mapToLong(Long::longValue).sum(),
          taskCheck[0]);
      return result;
    } catch (RuntimeException e) {
      log.error("verification failed: {}", e.getMessage());
      return new Result(false, at, null, null, Duration.ofNanos(System.nanoTime() - began), 0, 0, counts, failures[0],
          taskCheck[0], e.getMessage());
    } finally {
      Fs.deleteQuietly(scratch);
      Fs.deleteQuietly(scratch.resolveSibling(scratch.getFileName() + ".log"));
    }
  }

  private static long checksumFailures(Connection c) throws SQLException {
    try (Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT coalesce(sum(checksum_failures), 0) FROM pg_stat_database")) {
      rs.next();
      return rs.getLong(1);
    }
  }

  private static List<String> databases(Connection c) throws SQLException {
    List<String> out = new ArrayList<>();
    try (Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname")) {
      while (rs.next()) out.add(rs.getString(1));
    }
    return out;
  }

  /** Reads every row of every table (user and catalog), returning the user tables' counts. */
  private static Map<String, Long> countRows(Connection c, String db) throws SQLException {
    Map<String, Long> out = new LinkedHashMap<>();
    List<String[]> tables = new ArrayList<>();
    try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            + " WHERE c.relkind IN ('r', 'm', 't') AND c.relpersistence = 'p' ORDER BY 1, 2")) {
      while (rs.next()) tables.add(new String[] {rs.getString(1), rs.getString(2)});
    }
    try (Statement st = c.createStatement()) {
      for (String[] t : tables) {
        String name = quoteIdent(t[0]) + "." + quoteIdent(t[1]);
        // count(*) of a whole table is a sequential scan: every page is read and its checksum verified
        try (ResultSet rs = st.executeQuery("SELECT count(*) FROM " + name)) {
          rs.next();
          if (!t[0].equals("pg_catalog") && !t[0].equals("information_schema") && !t[0].equals("pg_toast")) {
            out.put(db + "." + t[0] + "." + t[1], rs.getLong(1));
          }
        }
      }
    }
    return out;
  }

  private static String compareTasks(String restoredUrl, String user, String password, PrimaryAccess live, Connection restored) {
    if (live == null) return "skipped (no live primary)";
    try (Connection r = DriverManager.getConnection(restoredUrl, user, password); Connection l = live.connect()) {
      Instant last;
      try (Statement st = restored.createStatement(); ResultSet rs = st.executeQuery("SELECT pg_last_xact_replay_timestamp()")) {
        rs.next();
        if (rs.getTimestamp(1) == null) return "skipped (no transaction replayed)";
        last = rs.getTimestamp(1).toInstant();
      }
      Instant upTo = last.minus(TASK_COUNT_MARGIN);
      long restoredCount = countTasks(r, upTo);
      long liveCount = countTasks(l, upTo);
      return (restoredCount == liveCount ? "match" : "MISMATCH") + ": " + restoredCount + " restored vs " + liveCount
          + " live tasks created up to " + upTo;
    } catch (SQLException e) {
      return "skipped (" + e.getMessage() + ")";
    }
  }

  private static long countTasks(Connection c, Instant upTo) throws SQLException {
    try (var ps = c.prepareStatement("SELECT count(*) FROM tasks WHERE created_at <= ?")) {
      ps.setObject(1, java.time.OffsetDateTime.ofInstant(upTo, java.time.ZoneOffset.UTC));
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }

  static String quoteIdent(String s) {
    return "\"" + s.replace("\"", "\"\"") + "\"";
  }
}
