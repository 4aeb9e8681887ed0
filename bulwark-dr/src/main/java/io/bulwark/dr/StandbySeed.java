package io.bulwark.dr;

import io.bulwark.core.blob.BlobStore;
import io.bulwark.core.io.Fs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;

/**
 * Builds a standby on another host from the shared archive alone, as pgBackRest's {@code restore
 * --type=standby} and WAL-G's {@code backup-fetch} do: no shared file system with the primary and no
 * pg_basebackup. The chosen base backup's files are restored (each verified against its manifest),
 * the WAL the archive holds after it is put into {@code pg_wal} (PostgreSQL replays what it finds
 * there before it starts streaming), and {@code standby.signal} is written. Started with a {@code
 * primary_conninfo}, the server replays up to the end of the archive and then streams the rest from
 * the primary, whose replication slot for this node kept that WAL since before the backup began.
 *
 * <p>Everything happens in a sibling directory that is renamed onto the data directory at the end,
 * so a seed cut short leaves no half-built cluster behind.
 */
public final class StandbySeed {
  private StandbySeed() {}

  public record Result(String backup, long timeline, long dataBytes, long walBytes, int walFiles, Duration took) {}

  /**
   * Replaces {@code dataDir} (whatever is there) with a standby restored from backup {@code label}.
   *
   * @throws DrException when the backup is not in the archive, or the archive lacks the WAL the backup
   *     needs to become consistent
   */
  public static Result seed(BlobStore store, String label, Path dataDir) {
    long began = System.nanoTime();
    BackupManifest backup = BackupCatalog.backups(store).stream().filter(b -> b.label().equals(label)).findFirst()
        .orElseThrow(() -> new DrException("backup " + label + " is not (or not yet completely) in the archive "
            + store.describe() + "; a standby is seeded from the backup its primary names"));
    List<WalArchive.Entry> wal = WalArchive.list(store);
    RestorePlan plan = RestorePlan.of(store, backup, wal);
    if (plan.missingBeforeConsistency(backup)) {
      throw new DrException("WAL segment " + plan.firstMissing().get() + " is not in the archive yet, and backup " + label
          + " needs it to become consistent; seeding again shortly");
    }
    Path dir = dataDir.toAbsolutePath().normalize();
    Path tmp = dir.resolveSibling("." + dir.getFileName() + ".seed");
    try {
      Fs.deleteRecursively(tmp);
      long dataBytes = PointInTimeRestore.extract(store, backup, tmp);
      Path pgWal = tmp.resolve("pg_wal");
      Fs.createPrivateDir(pgWal);
      long walBytes = PointInTimeRestore.prefetch(store, plan, pgWal);
      Fs.touchSynced(tmp.resolve("standby.signal"));
      Fs.deleteRecursively(dir);
      Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
      Fs.fsync(dir.getParent());
      return new Result(label, backup.timeline(), dataBytes, walBytes, plan.segments().size() + plan.histories().size(),
          Duration.ofNanos(System.nanoTime() - began));
    } catch (IOException e) {
      throw new DrException("cannot seed a standby into " + dir + ": " + e, e);
    } finally {
      Fs.deleteQuietly(tmp);
    }
  }
}
