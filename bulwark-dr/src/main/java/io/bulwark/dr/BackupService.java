package io.bulwark.dr;

import io.bulwark.core.blob.BlobStore;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Backups for {@code bulwark up}: the {@link WalArchiver} and {@link WalSwitcher} threads, a base backup at once when the
 * repository has none (in the background: {@code up} does not wait for it) and then every {@code
 * backupInterval}, retention after each backup, and a verification every {@code verifyInterval}.
 * One scheduler thread runs backups, retention and verification one at a time; a failed run is
 * logged, shown in {@link #status()} and retried after {@link #RETRY}.
 */
public final class BackupService implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(BackupService.class);
  static final Duration RETRY = Duration.ofSeconds(15);
  private static final Duration TICK = Duration.ofSeconds(10);

  /** The schedule; {@link #DEFAULTS}: 3 s archive timeout, daily backups, 7 days kept, daily verification. */
  public record Config(Duration archiveTimeout, Duration backupInterval, Duration retention, Duration verifyInterval) {
    public static final Duration DEFAULT_BACKUP_INTERVAL = Duration.ofHours(24);
    public static final Duration DEFAULT_RETENTION = Duration.ofDays(7);
    public static final Duration DEFAULT_VERIFY_INTERVAL = Duration.ofHours(24);
    public static final Config DEFAULTS = new Config(WalArchiver.DEFAULT_ARCHIVE_TIMEOUT, DEFAULT_BACKUP_INTERVAL,
        DEFAULT_RETENTION, DEFAULT_VERIFY_INTERVAL);

    public Config {
      if (archiveTimeout.toSeconds() < 1) throw new DrException("archive timeout must be at least 1 s, was " + archiveTimeout);
      if (backupInterval.toMinutes() < 1) throw new DrException("backup interval must be at least 1 min, was " + backupInterval);
      if (retention.compareTo(backupInterval) < 0) {
        throw new DrException("retention (" + retention + ") must be at least the backup interval (" + backupInterval
            + "), or the window would have holes");
      }
      if (verifyInterval.toMinutes() < 1) throw new DrException("verify interval must be at least 1 min, was " + verifyInterval);
    }
  }

  /** Everything {@code bulwark db status} shows about backups. */
  public record Status(WalArchiver.Status archiving, Optional<String> newestBackup, Optional<Instant> newestBackupAt,
      int backups, Optional<BackupCatalog.Window> window, Optional<BackupVerifier.Result> lastVerification,
      Optional<String> lastBackupError, boolean backupRunning) {}

  private final Config config;
  private final BlobStore store;
  private final PrimaryAccess primary;
  private final Path scratch;
  private final String password;
  private final Path binariesDir;
  private final WalArchiver archiver;
  private final WalSwitcher switcher;
  private final Clock clock = Clock.systemUTC();
  private final ScheduledExecutorService scheduler =
      Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("backup-scheduler").daemon().factory());
  private volatile Instant nextBackup;
  private volatile Instant nextVerify;
  private volatile List<BackupManifest> catalog = List.of();
  private volatile Optional<BackupVerifier.Result> lastVerification = Optional.empty();
  private volatile String lastBackupError;
  private volatile boolean backupRunning;
  private final Path verificationFile;

  /**
   * @param spoolDir where archive_command puts WAL ({@link WalArchiver#postgresSettings})
   * @param scratchDir a path this service may create and delete for verification restores
   * @param pgPassword the superuser password (verification starts the restored copy with it)
   * @param binariesDir PostgreSQL binaries, or null for the bundled ones
   */
  public BackupService(Config config, BlobStore store, Path spoolDir, Path scratchDir, String pgPassword, Path binariesDir,
      PrimaryAccess primary) {
    this(config, store, spoolDir, scratchDir, pgPassword, binariesDir, primary, null);
  }

  /**
   * @param verificationFile where the last verification's result is kept across restarts (so the
   *     next one is due a verify interval after it, not a minute after every start); null for none
   */
  public BackupService(Config config, BlobStore store, Path spoolDir, Path scratchDir, String pgPassword, Path binariesDir,
      PrimaryAccess primary, Path verificationFile) {
    this.verificationFile = verificationFile;
    this.config = config;
    this.store = store;
    this.primary = primary;
    this.scratch = scratchDir;
    this.password = pgPassword;
    this.binariesDir = binariesDir;
    this.archiver = new WalArchiver(store, spoolDir);
    this.switcher = new WalSwitcher(primary, config.archiveTimeout());
  }

  /** Starts archiving and the schedule; the first backup (if none exists) starts at once in the background. */
  public void start() {
    archiver.start();
    switcher.start();
    log.info("backups: archive timeout {} s, a base backup every {}, kept {}, verified every {}; repository {}",
        config.archiveTimeout().toSeconds(), config.backupInterval(), config.retention(), config.verifyInterval(),
        store.describe());
    nextBackup = clock.instant();
    lastVerification = verificationFile == null ? Optional.empty() : BackupVerifier.load(verificationFile);
    // the next verification: an interval after the recorded one (sooner if it failed), else a minute after the first backup
    nextVerify = lastVerification.map(r -> r.at().plus(r.ok() ? config.verifyInterval() : RETRY.multipliedBy(10))).orElse(null);
    scheduler.scheduleWithFixedDelay(this::tick, 0, TICK.toMillis(), TimeUnit.MILLISECONDS);
  }

  private void tick() {
    try {
      catalog = BackupCatalog.backups(store);
      Instant now = clock.instant();
      Optional<BackupManifest> newest = catalog.isEmpty() ? Optional.empty() : Optional.of(catalog.get(catalog.size() - 1));
      Instant due = newest.map(b -> b.stoppedAt().plus(config.backupInterval())).orElse(now);
      if (!now.isBefore(due) && !now.isBefore(nextBackup)) backupNow();
      if (nextVerify == null && !catalog.isEmpty()) nextVerify = now.plus(Duration.ofMinutes(1));
      if (nextVerify != null && !now.isBefore(nextVerify)) verifyNow();
    } catch (RuntimeException e) {
      log.error("backup schedule: {}", e.getMessage(), e);
    }
  }

  /** Takes a base backup now (on the calling thread), then applies retention. */
  public BackupManifest backupNow() {
    backupRunning = true;
    try (Connection c = primary.connect()) {
      BackupManifest m = BaseBackups.take(c, primary.dataDir(), store, archiver, BaseBackups.DEFAULT_ARCHIVE_WAIT);
      lastBackupError = null;
      BackupCatalog.prune(store, config.retention(), clock.instant());
      catalog = BackupCatalog.backups(store);
      return m;
    } catch (Exception e) {
      lastBackupError = e.getMessage();
      nextBackup = clock.instant().plus(RETRY);
      log.error("base backup failed (retrying in {} s): {}", RETRY.toSeconds(), e.getMessage());
      throw e instanceof DrException de ? de : new DrException("base backup failed: " + e.getMessage(), e);
    } finally {
      backupRunning = false;
    }
  }

  /**
   * A base backup that started at or after {@code since}: the newest one if it did, else one taken
   * now. Runs on the schedule's thread, after whatever it is doing (the first backup of an empty
   * repository, say), so two backups never run at once. What a new primary seeds its standbys from.
   */
  public java.util.concurrent.CompletableFuture<BackupManifest> backupSince(Instant since) {
    return java.util.concurrent.CompletableFuture.supplyAsync(() -> {
      List<BackupManifest> c = BackupCatalog.backups(store);
      if (!c.isEmpty() && !c.get(c.size() - 1).startedAt().isBefore(since)) return c.get(c.size() - 1);
      return backupNow();
    }, scheduler);
  }

  /** Runs a verification now (on the calling thread) and records its result. */
  public BackupVerifier.Result verifyNow() {
    BackupVerifier.Result r = BackupVerifier.verify(store, scratch, password, binariesDir, primary);
    lastVerification = Optional.of(r);
    if (verificationFile != null) BackupVerifier.save(r, verificationFile);
    nextVerify = clock.instant().plus(r.ok() ? config.verifyInterval() : RETRY.multipliedBy(10));
    return r;
  }

  /** The newest complete base backup as of the schedule's last look at the repository: no I/O. */
  public Optional<BackupManifest> newestBackup() {
    List<BackupManifest> c = catalog;
    return c.isEmpty() ? Optional.empty() : Optional.of(c.get(c.size() - 1));
  }

  public Status status() {
    List<BackupManifest> c = catalog;
    WalArchiver.Status archiving = archiver.status();
    Optional<BackupManifest> newest = c.isEmpty() ? Optional.empty() : Optional.of(c.get(c.size() - 1));
    return new Status(archiving, newest.map(BackupManifest::label), newest.map(BackupManifest::stoppedAt), c.size(),
        window(c, archiving.uploadedFiles()), lastVerification, Optional.ofNullable(lastBackupError), backupRunning);
  }

  /** The restorable window, and what it was computed from: the backups and how many files this archiver had uploaded. */
  private record CachedWindow(List<String> backups, long uploadedFiles, Optional<BackupCatalog.Window> window) {}

  private volatile CachedWindow cachedWindow;

  /**
   * The restorable window. Computing it lists the whole WAL archive, so it is recomputed only when
   * its inputs change (a backup taken or pruned, a file uploaded), not on every status read
   * (`up` publishes the status every second; a week of WAL under load is ~10^5 objects).
   */
  private Optional<BackupCatalog.Window> window(List<BackupManifest> c, long uploadedFiles) {
    if (c.isEmpty()) return Optional.empty();
    List<String> labels = c.stream().map(BackupManifest::label).toList();
    CachedWindow cached = cachedWindow;
    if (cached != null && cached.uploadedFiles() == uploadedFiles && cached.backups().equals(labels)) return cached.window();
    try {
      Optional<BackupCatalog.Window> w = BackupCatalog.window(store, c, WalArchive.list(store));
      cachedWindow = new CachedWindow(labels, uploadedFiles, w);
      return w;
    } catch (RuntimeException e) {
      return Optional.empty();
    }
  }

  public WalArchiver archiver() {
    return archiver;
  }

  /** Stops the schedule (a running backup is abandoned: without a manifest it is ignored) and the archiver. */
  @Override
  public void close() {
    scheduler.shutdownNow();
    try {
      scheduler.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    switcher.close();
    archiver.close();
  }
}
