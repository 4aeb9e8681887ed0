package io.bulwark.dr;

import io.bulwark.core.io.Fs;
import io.bulwark.core.blob.BlobException;
import io.bulwark.core.blob.BlobStore;
import io.bulwark.embedded.EmbeddedPostgres;
import io.bulwark.embedded.EmbeddedPostgresException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Restores the repository into a new data directory as of a point in time (or the end of the
 * archive): the newest base backup that finished at or before the target, every file verified
 * against the manifest; every WAL file the restore needs prefetched and verified into a sibling
 * directory that a plain {@code cp} serves as {@code restore_command}; then PostgreSQL replays it
 * with {@code recovery_target_time} (inclusive) and promotes, and is stopped cleanly. The result is
 * a normal primary on a new timeline holding every transaction committed at or before the target
 * and none after. A restore never touches an existing cluster: the target must be new or empty.
 */
public final class PointInTimeRestore {
  private static final Logger log = LoggerFactory.getLogger(PointInTimeRestore.class);
  static final String TARGET_NOT_REACHED = "recovery ended before configured recovery target was reached";
  /**
   * One per core, as many as the heap allows: each thread holds a bundle (up to 8 MiB) and what it
   * decompresses, so a restore inside the supervisor (a verification, with its small heap) cannot run
   * it out of memory on a host with many cores.
   */
  private static final int THREADS = (int) Math.max(2, Math.min(Runtime.getRuntime().availableProcessors(),
      Runtime.getRuntime().maxMemory() / (24L << 20)));

  /**
   * @param target the time to restore to; empty: the end of the archive
   * @param password the database superuser's password (the restored cluster keeps the source's users)
   * @param binariesDir PostgreSQL binaries, or null for the bundled ones
   * @param forService true when the cluster is to be put in service: it keeps {@code archive_mode=on}
   *     (with no command yet) so the WAL of its new timeline is archived once it runs under {@code up};
   *     false for a scratch copy (verification)
   */
  public record Request(Optional<Instant> target, Path targetDir, String password, Path binariesDir, boolean forService) {}

  public record Result(String backup, Optional<Instant> target, Instant lastTransaction, long timeline, long dataBytes,
      long walBytes, int walFiles, Duration duration, Path targetDir) {
    public double megabytesPerSecond() {
      return (dataBytes + walBytes) / 1e6 / Math.max(1e-3, duration.toNanos() / 1e9);
    }
  }

  /** Runs against the restored cluster while it is up, before it is stopped (verification). */
  @FunctionalInterface
  public interface Check {
    void run(EmbeddedPostgres restored, Connection connection) throws Exception;
  }

  private PointInTimeRestore() {}

  public static Result run(BlobStore store, Request req) {
    return run(store, req, (pg, c) -> {});
  }

  public static Result run(BlobStore store, Request req, Check check) {
    long began = System.nanoTime();
    Path target = req.targetDir().toAbsolutePath().normalize();
    refuseNonEmpty(target);
    List<BackupManifest> backups = BackupCatalog.backups(store);
    if (backups.isEmpty()) {
      throw new DrException("the repository " + store.describe() + " holds no complete base backup, so there is nothing to"
          + " restore; take one with `bulwark db backup` (or let `bulwark up` take its first one)");
    }
    List<WalArchive.Entry> wal = WalArchive.list(store);
    BackupCatalog.Window window = BackupCatalog.window(store, backups, wal).orElseThrow();
    if (req.target().isPresent() && !window.contains(req.target().get())) {
      throw new DrException("cannot restore to " + req.target().get() + ": it is outside the restorable window "
          + window.from() + " .. " + window.to() + "; choose a time inside it (see `bulwark db backups`)");
    }
    BackupManifest backup = req.target()
        .map(t -> backups.stream().filter(b -> !b.stoppedAt().isAfter(t)).reduce((a, b) -> b).orElseThrow())
        .orElse(backups.get(backups.size() - 1));
    RestorePlan plan = RestorePlan.of(store, backup, wal);
    if (plan.missingBeforeConsistency(backup)) {
      throw new DrException("WAL segment " + plan.firstMissing().get() + " is missing from the archive " + store.describe()
          + ", and backup " + backup.label() + " cannot become consistent without it (it needs " + backup.startSegment()
          + " to " + backup.stopSegment() + "); restore from another backup or find the segment");
    }
    if (plan.firstMissing().isPresent() && req.target().isEmpty()) {
      throw new DrException("WAL segment " + plan.firstMissing().get() + " is missing from the archive " + store.describe()
          + ", so the archive is not continuous to its end; restore to a time before that segment was written with"
          + " --time (WAL ends at a gap, not silently)");
    }
    Path walDir = target.resolveSibling("." + target.getFileName() + ".restore-wal");
    try {
      long dataBytes = extract(store, backup, target);
      try {
        Fs.recreatePrivateDir(walDir);
      } catch (IOException e) {
        throw new DrException("cannot create the restore's WAL directory " + walDir + ": " + e, e);
      }
      long walBytes = prefetch(store, plan, walDir);
      log.info("restore into {}: backup {} ({} MiB) and {} WAL files ({} MiB) in place after {} ms; replaying{}", target,
          backup.label(), dataBytes >> 20, plan.segments().size(), walBytes >> 20, (System.nanoTime() - began) / 1_000_000,
          req.target().map(t -> " to " + t).orElse(" to the end of the archive"));
      Recovered r = recover(req, target, walDir, req.target(), plan, check);
      Duration took = Duration.ofNanos(System.nanoTime() - began);
      Result result = new Result(backup.label(), req.target(), r.lastTransaction, r.timeline, dataBytes, walBytes,
          plan.segments().size() + plan.histories().size(), took, target);
      log.info("restored {} to {} (last transaction {}), timeline {}: {} MB in {} s, {} MB/s", backup.label(), target,
          r.lastTransaction, r.timeline, (dataBytes + walBytes) / 1_000_000, String.format("%.1f", took.toMillis() / 1000.0),
          String.format("%.0f", result.megabytesPerSecond()));
      return result;
    } finally {
      Fs.deleteQuietly(walDir);
    }
  }

  private static void refuseNonEmpty(Path target) {
    if (!Files.exists(target)) return;
    if (!Files.isDirectory(target)) {
      throw new DrException("restore target " + target + " exists and is not a directory; choose a new directory with --target");
    }
    try (Stream<Path> s = Files.list(target)) {
      if (s.findAny().isPresent()) {
        throw new DrException("restore target " + target + " is not empty; a restore never overwrites a directory."
            + " Choose a new directory with --target (or empty this one)");
      }
    } catch (IOException e) {
      throw new DrException("cannot read restore target " + target + ": " + e, e);
    }
  }

  // ------------------------------------------------------------------ files

  static long extract(BlobStore store, BackupManifest backup, Path target) {
    try {
      Fs.createPrivateDir(target);
      for (String d : backup.directories()) Fs.createPrivateDir(target.resolve(d));
    } catch (IOException e) {
      throw new DrException("cannot create the restore target's directories in " + target + ": " + e
          + "; check permissions and free space, or choose another --target", e);
    }
    AtomicLong bytes = new AtomicLong();
    List<BackupManifest.FileEntry> files = new ArrayList<>();
    Map<String, List<BackupManifest.FileEntry>> bundles = new LinkedHashMap<>();
    for (BackupManifest.FileEntry f : backup.files()) {
      if (f.bundled()) bundles.computeIfAbsent(f.key(), k -> new ArrayList<>()).add(f);
      else files.add(f);
    }
    files.sort(Comparator.comparingLong(BackupManifest.FileEntry::size).reversed()); // big first: balances the threads
    List<Runnable> work = new ArrayList<>();
    for (BackupManifest.FileEntry f : files) work.add(() -> bytes.addAndGet(extractFile(store, backup, f, target)));
    for (List<BackupManifest.FileEntry> b : bundles.values()) work.add(() -> bytes.addAndGet(extractBundle(store, backup, b, target)));
    runParallel(work, Runnable::run);
    return bytes.get();
  }

  /** Reads a bundle object once (verified as a whole), then writes and verifies each file in it. */
  private static long extractBundle(BlobStore store, BackupManifest backup, List<BackupManifest.FileEntry> entries,
      Path target) {
    BackupManifest.FileEntry first = entries.get(0);
    byte[] bundle;
    try {
      bundle = store.get(new io.bulwark.core.blob.BlobRef(first.key(), first.storedSize(), first.storedSha256()));
    } catch (BlobException.NotFound e) {
      throw new DrException("archive object '" + first.key() + "' (" + entries.size() + " files of backup " + backup.label()
          + ", e.g. " + first.path() + ") is missing from " + store.describe() + "; restore from another backup", e);
    } catch (BlobException e) {
      throw new DrException("archive object '" + first.key() + "' (" + entries.size() + " files of backup " + backup.label()
          + ", e.g. " + first.path() + ") is corrupt: " + e.getMessage() + "; restore from another backup", e);
    }
    long total = 0;
    for (BackupManifest.FileEntry f : entries) {
      Path out = target.resolve(f.path());
      try (InputStream in = new java.io.ByteArrayInputStream(bundle, Math.toIntExact(f.offset()), Math.toIntExact(f.length()));
          OutputStream os = Files.newOutputStream(Files.createFile(out, Fs.attribute(Fs.PRIVATE_FILE)), StandardOpenOption.WRITE)) {
        Codec.Digest d = Codec.decompress(in, os, f.key());
        if (d.length() != f.size() || !d.sha256().equals(f.sha256())) {
          throw new DrException("file " + f.path() + " of backup " + backup.label() + " (in archive object '" + f.key()
              + "') is corrupt: its content has sha256 " + d.sha256() + " (" + d.length() + " bytes), the manifest says "
              + f.sha256() + " (" + f.size() + " bytes); restore from another backup");
        }
        total += d.length();
      } catch (IOException e) {
        throw new DrException("cannot restore " + f.path() + " from archive object '" + f.key() + "' into " + out + ": " + e, e);
      }
    }
    return total;
  }

  private static long extractFile(BlobStore store, BackupManifest backup, BackupManifest.FileEntry f, Path target) {
    Path out = target.resolve(f.path());
    try (InputStream in = store.open(new io.bulwark.core.blob.BlobRef(f.key(), f.storedSize(), f.storedSha256()));
        OutputStream os = Files.newOutputStream(Files.createFile(out, Fs.attribute(Fs.PRIVATE_FILE)), StandardOpenOption.WRITE)) {
      Codec.Digest d = Codec.decompress(in, os, f.key());
      if (d.length() != f.size() || !d.sha256().equals(f.sha256())) {
        throw new DrException("file " + f.path() + " of backup " + backup.label() + " (archive object '" + f.key()
            + "') is corrupt: its content has sha256 " + d.sha256() + " (" + d.length() + " bytes), the manifest says "
            + f.sha256() + " (" + f.size() + " bytes); restore from another backup");
      }
      return d.length();
    } catch (BlobException.NotFound e) {
      throw new DrException("archive object '" + f.key() + "' (file " + f.path() + " of backup " + backup.label()
          + ") is missing from " + store.describe() + "; restore from another backup", e);
    } catch (BlobException e) {
      throw new DrException("archive object '" + f.key() + "' (file " + f.path() + " of backup " + backup.label()
          + ") is corrupt: " + e.getMessage(), e);
    } catch (IOException e) {
      throw new DrException("cannot restore " + f.path() + " from archive object '" + f.key() + "' into " + out + ": " + e, e);
    }
  }

  static long prefetch(BlobStore store, RestorePlan plan, Path walDir) {
    AtomicLong bytes = new AtomicLong();
    List<WalArchive.Entry> all = new ArrayList<>(plan.histories());
    all.addAll(plan.segments());
    runParallel(all, e -> bytes.addAndGet(WalArchive.fetch(store, e, walDir.resolve(e.name())).rawLength()));
    return bytes.get();
  }

  interface Task<T> {
    void run(T item) throws Exception;
  }

  private static <T> void runParallel(List<T> items, Task<T> task) {
    try (ExecutorService pool = Executors.newFixedThreadPool(THREADS, Thread.ofPlatform().name("restore-", 0).factory())) {
      List<Future<?>> futures = new ArrayList<>();
      for (T item : items) futures.add(pool.submit(() -> { task.run(item); return null; }));
      for (Future<?> f : futures) {
        try {
          f.get();
        } catch (ExecutionException e) {
          pool.shutdownNow();
          if (e.getCause() instanceof RuntimeException re) throw re;
          throw new DrException(e.getCause().toString(), e.getCause());
        } catch (InterruptedException e) {
          pool.shutdownNow();
          Thread.currentThread().interrupt();
          throw new DrException("restore interrupted", e);
        }
      }
    }
  }

  // ------------------------------------------------------------------ recovery

  private record Recovered(Instant lastTransaction, long timeline) {}

  private static Recovered recover(Request req, Path target, Path walDir, Optional<Instant> to, RestorePlan plan, Check check) {
    try {
      Files.write(target.resolve("recovery.signal"), new byte[0]);
    } catch (IOException e) {
      throw new DrException("cannot write " + target.resolve("recovery.signal") + ": " + e, e);
    }
    EmbeddedPostgres pg = server(req, target, walDir, to);
    try {
      pg.start();
    } catch (EmbeddedPostgresException e) {
      if (to.isEmpty() || !String.valueOf(e.getMessage()).contains(TARGET_NOT_REACHED)) throw failed(target, e);
      if (plan.firstMissing().isPresent()) {
        throw new DrException("cannot restore to " + to.get() + ": WAL segment " + plan.firstMissing().get() + " is missing from"
            + " the archive and the restore needs it; choose an earlier --time", e);
      }
      // No transaction committed after the target is in the archive: the end of the archive is that state.
      log.info("restore: nothing committed after {} is archived; replaying to the end of the archive", to.get());
      pg = server(req, target, walDir, Optional.empty());
      try {
        pg.start();
      } catch (EmbeddedPostgresException again) {
        throw failed(target, again);
      }
    }
    try (Connection c = DriverManager.getConnection(pg.jdbcUrl("postgres"), pg.user(), req.password());
        Statement st = c.createStatement()) {
      Instant last;
      long timeline;
      try (ResultSet rs = st.executeQuery("SELECT pg_is_in_recovery(), pg_last_xact_replay_timestamp(),"
          + " ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::bigint")) {
        rs.next();
        if (rs.getBoolean(1)) throw new DrException("the restored cluster in " + target + " is still in recovery after start");
        Timestamp ts = rs.getTimestamp(2);
        last = ts == null ? null : ts.toInstant();
        timeline = rs.getLong(3);
      }
      check.run(pg, c);
      return new Recovered(last, timeline);
    } catch (DrException e) {
      throw e;
    } catch (Exception e) {
      throw new DrException("checking the restored cluster in " + target + " failed: " + e, e);
    } finally {
      pg.stop();
    }
  }

  private static EmbeddedPostgres server(Request req, Path target, Path walDir, Optional<Instant> to) {
    Map<String, String> s = new LinkedHashMap<>();
    s.put("restore_command", "cp " + WalArchiver.shellQuote(walDir.toString()) + "/%f %p");
    to.ifPresent(t -> s.put("recovery_target_time", pgTimestamp(t)));
    s.put("recovery_target_inclusive", "on");
    s.put("recovery_target_action", "promote");
    s.put("recovery_target_timeline", "latest");
    s.put("hot_standby", "off"); // ready (accepting connections) only once promoted
    s.put("archive_mode", req.forService() ? "on" : "off");
    s.put("archive_command", "");
    EmbeddedPostgres.Builder b = EmbeddedPostgres.builder().dataDir(target).password(req.password()).port(0)
        .logFile(target.resolveSibling(target.getFileName() + ".log")).startTimeout(Duration.ofHours(6)).settings(s);
    if (req.binariesDir() != null) b.binariesDir(req.binariesDir());
    return b.build();
  }

  /**
   * PostgreSQL keeps microseconds; truncating down is exact, since a commit at c (whole
   * microseconds) is at or before t exactly when it is at or before t truncated.
   */
  static String pgTimestamp(Instant t) {
    return PG_TIME.format(t.truncatedTo(ChronoUnit.MICROS));
  }

  private static final DateTimeFormatter PG_TIME =
      DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSSSSS'+00'").withZone(ZoneOffset.UTC);

  private static DrException failed(Path target, EmbeddedPostgresException e) {
    return new DrException("PostgreSQL could not recover the restored cluster in " + target + ": " + e.getMessage(), e);
  }
}
