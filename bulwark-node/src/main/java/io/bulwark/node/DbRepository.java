package io.bulwark.node;

import com.fasterxml.jackson.databind.JsonNode;
import io.bulwark.core.BulwarkException;
import io.bulwark.dr.PrimaryAccess;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.Optional;

/** What the backup commands share: the repository of a data directory, whether `up` runs, the primary. */
public final class DbRepository {
  private DbRepository() {}

  public static io.bulwark.core.blob.BlobStore open(DataDir dir) {
    StorageLayout layout = StorageLayout.read(dir);
    if (!layout.replicated() && !Files.isDirectory(dir.archive())) {
      throw new BulwarkException("no backup repository at " + dir.archive() + "; is " + dir.root()
          + " a Bulwark data directory? Pass --data-dir, or start `bulwark up` once to create it");
    }
    return layout.openArchive("db-command", new io.bulwark.core.metrics.Metrics());
  }

  /** Whether a `bulwark up` holds the data directory's lock. */
  public static boolean upRunning(DataDir dir) {
    if (!Files.exists(dir.lockFile())) return false;
    try (FileChannel ch = FileChannel.open(dir.lockFile(), StandardOpenOption.WRITE)) {
      FileLock lock = ch.tryLock();
      if (lock == null) return true;
      lock.release();
      return false;
    } catch (IOException e) {
      throw new BulwarkException("cannot check whether `bulwark up` runs on " + dir.root() + ": " + e.getMessage(), e);
    }
  }

  /** The primary of the running `up`, from run/db-status.json; empty when nothing runs. */
  public static Optional<PrimaryAccess> runningPrimary(DataDir dir) {
    Path status = dir.run().resolve(DbStatus.FILE);
    if (!upRunning(dir) || !Files.exists(status)) return Optional.empty();
    try {
      JsonNode cluster = DbStatus.JSON.readTree(status.toFile()).path("cluster");
      String primary = cluster.path("primary").asText();
      int port = -1;
      for (JsonNode n : cluster.path("nodes")) {
        if (n.path("name").asText().equals(primary)) port = n.path("port").asInt(-1);
      }
      if (primary.isEmpty() || port <= 0) return Optional.empty();
      String url = "jdbc:postgresql://127.0.0.1:" + port + "/" + LocalDeployment.DATABASE;
      String password = dir.pgPassword();
      Path dataDir = dir.pgNode(primary);
      return Optional.of(new PrimaryAccess() {
        @Override
        public Connection connect() throws SQLException {
          return DriverManager.getConnection(url, io.bulwark.embedded.EmbeddedPostgres.DEFAULT_USER, password);
        }

        @Override
        public Path dataDir() {
          return dataDir;
        }
      });
    } catch (IOException e) {
      throw new BulwarkException("cannot read " + status + ": " + e.getMessage(), e);
    }
  }

  /** ISO-8601 with a zone or offset: 2026-11-26T01:30:00Z, 2026-11-26T02:30:00+01:00. */
  public static Instant parseTime(String text) {
    try {
      return OffsetDateTime.parse(text).toInstant();
    } catch (DateTimeParseException e) {
      throw new BulwarkException("--time '" + text + "' is not an ISO-8601 time with a zone, like 2026-11-26T01:30:00Z"
          + " or 2026-11-26T02:30:00.250+01:00");
    }
  }

  public static String mb(long bytes) {
    return String.format("%.1f MB", bytes / 1e6);
  }
}
