package io.bulwark.dr;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A base backup of a running cluster with PostgreSQL's low-level API, so it needs only a SQL
 * connection and read access to the data directory (no {@code pg_basebackup}): {@code
 * pg_backup_start} (with a fast checkpoint), copy the files, {@code pg_backup_stop}, write the
 * {@code backup_label} it returns into the copy. The copy is consistent once the WAL from its start
 * to its stop position has been replayed, from a replication stream (a standby) or the archive.
 *
 * <p>What is left out follows the PostgreSQL manual ("Making a Base Backup Using the Low Level
 * API"): WAL, the postmaster's pid and options, replication slots, temporary and statistics files,
 * and Bulwark's {@code bulwark-runtime.conf} and signal files, which describe the source node, not
 * the copy.
 */
public final class OnlineBackup {
  private static final Logger log = LoggerFactory.getLogger(OnlineBackup.class);

  /** Directories copied empty. */
  static final Set<String> EMPTY_DIRS = Set.of("pg_wal", "pg_replslot", "pg_dynshmem", "pg_notify", "pg_serial",
      "pg_snapshots", "pg_stat_tmp", "pg_subtrans");
  /** Files never copied (top level). */
  static final Set<String> SKIPPED_FILES = Set.of("postmaster.pid", "postmaster.opts", "backup_label", "backup_label.old",
      "tablespace_map", "tablespace_map.old", "backup_manifest", "current_logfiles", "standby.signal", "recovery.signal",
      "bulwark-runtime.conf");
  private static final Pattern START_LINE = Pattern.compile("START WAL LOCATION: ([0-9A-F]+/[0-9A-F]+)");
  private static final Pattern TIMELINE_LINE = Pattern.compile("START TIMELINE: (\\d+)");

  /** What a finished backup is: its WAL range (start and stop positions on its timeline) and size. */
  public record Result(String label, long timeline, Lsn start, Lsn stop, Instant startedAt, Instant stoppedAt,
      int files, long bytes) {
    /** The first WAL segment a restore of this backup needs. */
    public String startSegment() {
      return start.segmentName(timeline);
    }

    /** The last WAL segment a restore needs to reach consistency. */
    public String stopSegment() {
      return stop.segmentName(timeline);
    }
  }

  private OnlineBackup() {}

  /**
   * Takes a base backup of the cluster in dataDir (which connection is connected to) into sink.
   *
   * @param waitForArchive whether {@code pg_backup_stop} waits until the WAL the backup needs is
   *     archived (true for backups restored from the archive; false for a standby that streams it)
   */
  public static Result take(Connection connection, Path dataDir, String label, boolean waitForArchive, BackupSink sink)
      throws SQLException, IOException {
    Instant startedAt = Instant.now();
    try (PreparedStatement st = connection.prepareStatement("SELECT pg_backup_start(?, true)")) {
      st.setString(1, label);
      st.execute();
    }
    boolean stopped = false;
    try {
      Counter counter = new Counter();
      copyTree(dataDir, sink, counter);
      String labelFile;
      String spcMap;
      String stopLsn;
      try (PreparedStatement st = connection.prepareStatement("SELECT lsn, labelfile, spcmapfile FROM pg_backup_stop(?)")) {
        st.setBoolean(1, waitForArchive);
        try (ResultSet rs = st.executeQuery()) {
          rs.next();
          stopLsn = rs.getString(1);
          labelFile = rs.getString(2);
          spcMap = rs.getString(3);
        }
      }
      stopped = true;
      sink.bytes("backup_label", labelFile.getBytes(StandardCharsets.UTF_8));
      if (spcMap != null && !spcMap.isEmpty()) {
        sink.bytes("tablespace_map", spcMap.getBytes(StandardCharsets.UTF_8));
      }
      sink.finish();
      Matcher start = START_LINE.matcher(labelFile);
      Matcher timeline = TIMELINE_LINE.matcher(labelFile);
      if (!start.find() || !timeline.find()) {
        throw new IOException("unexpected backup_label from pg_backup_stop:\n" + labelFile);
      }
      Result r = new Result(label, Long.parseLong(timeline.group(1)), Lsn.parse(start.group(1)), Lsn.parse(stopLsn),
          startedAt, Instant.now(), counter.files, counter.bytes);
      log.info("base backup {} of {}: {} files, {} MiB, WAL {} to {} on timeline {}", label, dataDir, r.files(),
          r.bytes() >> 20, r.start(), r.stop(), r.timeline());
      return r;
    } finally {
      if (!stopped) {
        abort(connection);
      }
    }
  }

  private static void abort(Connection connection) {
    try (Statement st = connection.createStatement()) {
      st.execute("SELECT pg_backup_stop(false)");
    } catch (SQLException e) {
      log.debug("aborting the backup: {}", e.getMessage()); // the session's end aborts it anyway
    }
  }

  private static final class Counter {
    int files;
    long bytes;
  }

  private static void copyTree(Path dataDir, BackupSink sink, Counter counter) throws IOException {
    Files.walkFileTree(dataDir, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
        if (dir.equals(dataDir)) return FileVisitResult.CONTINUE;
        String rel = relative(dataDir, dir);
        String name = dir.getFileName().toString();
        if (name.startsWith("pgsql_tmp")) return FileVisitResult.SKIP_SUBTREE;
        sink.directory(rel);
        if (EMPTY_DIRS.contains(rel)) {
          if (rel.equals("pg_wal")) {
            sink.directory("pg_wal/archive_status");
            sink.directory("pg_wal/summaries");
          }
          return FileVisitResult.SKIP_SUBTREE;
        }
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
        String rel = relative(dataDir, file);
        String name = file.getFileName().toString();
        if (attrs.isSymbolicLink()) {
          throw new IOException("tablespaces are not supported by Bulwark's base backup: " + file + " is a symbolic link");
        }
        if (!attrs.isRegularFile() || SKIPPED_FILES.contains(rel) || name.startsWith("pgsql_tmp")
            || name.equals("pg_internal.init") || name.endsWith(".tmp")) {
          return FileVisitResult.CONTINUE;
        }
        try {
          sink.file(rel, file);
          counter.files++;
          counter.bytes += attrs.size();
        } catch (NoSuchFileException vanished) {
          // dropped while the backup ran: WAL replay knows
        }
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
        if (e instanceof NoSuchFileException) return FileVisitResult.CONTINUE;
        throw e;
      }
    });
  }

  private static String relative(Path root, Path p) {
    return root.relativize(p).toString().replace('\\', '/');
  }
}
