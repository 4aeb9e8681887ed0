package io.bulwark.dr;

import io.bulwark.core.blob.BlobStore;
import java.io.IOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Takes a base backup of the running primary into the repository: {@link OnlineBackup} into a
 * {@link RepositorySink} (waiting in {@code pg_backup_stop} until PostgreSQL has archived the WAL the
 * backup needs into the spool), then waits until every one of those WAL segments is uploaded, and
 * only then writes the manifest. Labels are UTC times, so they sort by age: {@code 20261126T013000Z}.
 */
public final class BaseBackups {
  private static final Logger log = LoggerFactory.getLogger(BaseBackups.class);
  public static final Duration DEFAULT_ARCHIVE_WAIT = Duration.ofMinutes(5);
  static final DateTimeFormatter LABEL = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);
  private static final int COMPRESSION_WORKERS = Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));

  private BaseBackups() {}

  /**
   * @param archiver the archiver uploading the spool in this process, or null when another process
   *     (a running {@code bulwark up}) does: then this only polls the repository
   */
  public static BackupManifest take(Connection connection, Path dataDir, BlobStore store, WalArchiver archiver,
      Duration archiveWait) throws SQLException, IOException {
    String label = freeLabel(store, Clock.systemUTC().instant());
    RepositorySink sink = new RepositorySink(store, label, COMPRESSION_WORKERS);
    long began = System.nanoTime();
    OnlineBackup.Result r = OnlineBackup.take(connection, dataDir, label, true, sink);
    List<String> needed = segments(r);
    if (archiver != null) {
      archiver.awaitArchived(needed, archiveWait);
    } else {
      awaitInStore(store, needed, archiveWait);
    }
    BackupManifest m = new BackupManifest(BackupManifest.VERSION, label, r.timeline(), r.start().toString(),
        r.stop().toString(), r.startSegment(), r.stopSegment(), r.startedAt(), Instant.now(), sink.bytes(),
        sink.storedBytes(), sink.directories(), sink.files());
    BackupCatalog.writeManifest(store, m);
    double seconds = (System.nanoTime() - began) / 1e9;
    log.info("base backup {} complete: {} files, {} MiB ({} MiB stored) in {} s, {} MB/s; WAL {} to {}", label,
        m.files().size(), m.bytes() >> 20, m.storedBytes() >> 20, String.format("%.1f", seconds),
        String.format("%.0f", m.bytes() / 1e6 / seconds), m.startSegment(), m.stopSegment());
    return m;
  }

  /** The WAL segments from the backup's start to its stop, all needed to make it consistent. */
  static List<String> segments(OnlineBackup.Result r) {
    List<String> names = new ArrayList<>();
    long from = WalArchive.segno(r.startSegment());
    long to = WalArchive.segno(r.stopSegment());
    for (long s = from; s <= to; s++) names.add(WalArchive.segmentName(r.timeline(), s));
    return names;
  }

  private static void awaitInStore(BlobStore store, List<String> names, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    for (String n : names) {
      while (!WalArchive.isArchived(store, n)) {
        if (System.nanoTime() - deadline > 0) {
          throw new DrException("WAL segment " + n + " did not reach the archive " + store.describe() + " within "
              + timeout.toSeconds() + " s; is `bulwark up` (its WAL archiver) running? See `bulwark db status`");
        }
        try {
          Thread.sleep(50);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new DrException("interrupted while waiting for WAL segment " + n + " to be archived", e);
        }
      }
    }
  }

  private static String freeLabel(BlobStore store, Instant now) {
    String base = LABEL.format(now);
    for (int i = 0; ; i++) {
      String label = i == 0 ? base : base + "-" + i;
      if (store.list(BackupCatalog.objectPrefix(label)).isEmpty() && store.list(BackupCatalog.manifestPrefix(label)).isEmpty()) {
        return label;
      }
    }
  }
}
