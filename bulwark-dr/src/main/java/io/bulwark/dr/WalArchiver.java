package io.bulwark.dr;

import io.bulwark.core.blob.BlobRef;
import io.bulwark.core.blob.BlobStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Continuous WAL archiving in two hops, like pgBackRest's asynchronous archive-push. PostgreSQL's
 * {@code archive_command} only copies a finished segment durably into a local spool directory (a
 * shell copy to a temporary name, {@code sync}, rename: no JVM per segment, and idempotent); this
 * thread uploads each spool file to the repository, compressed and checksummed ({@link Codec}), and
 * then deletes it. Segments, {@code .partial}, {@code .backup} and timeline {@code .history} files
 * all go the same way.
 *
 * <p>A file whose name is already archived with the same content is just removed from the spool; one
 * with different content (two primaries wrote the same segment: split brain) is never uploaded over
 * the first: it stays in the spool, is logged as an error and shows in {@link Status#conflicts()}.
 */
public final class WalArchiver implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(WalArchiver.class);
  /**
   * How old unarchived WAL may get before its segment is switched ({@link WalSwitcher}; also
   * PostgreSQL's archive_timeout as a backstop). With the upload this keeps the lag under 5 s.
   */
  public static final Duration DEFAULT_ARCHIVE_TIMEOUT = Duration.ofSeconds(3);
  static final Duration POLL = Duration.ofMillis(100);
  private static final Duration STALE_TEMP = Duration.ofHours(1);

  private final BlobStore store;
  private final Path spool;
  private final Clock clock;
  private final Set<String> archived = ConcurrentHashMap.newKeySet(); // names known to be in the store
  private final Set<String> conflicts = ConcurrentHashMap.newKeySet();
  private final Object lock = new Object();
  private volatile boolean knownLoaded;
  private volatile Thread thread;
  private volatile boolean closed;
  private volatile String lastArchived;
  private volatile Instant lastArchivedAt;
  private volatile String lastError;
  private volatile long uploadedFiles;
  private volatile long uploadedBytes;
  private final Instant startedAt;

  /** What {@code bulwark db status} shows about archiving. */
  public record Status(String lastArchived, Instant lastArchivedAt, int pending, Duration oldestPendingAge,
      double bytesPerSecond, long uploadedFiles, List<String> conflicts, String lastError) {}

  public WalArchiver(BlobStore store, Path spoolDir) {
    this(store, spoolDir, Clock.systemUTC());
  }

  WalArchiver(BlobStore store, Path spoolDir, Clock clock) {
    this.store = store;
    this.spool = spoolDir.toAbsolutePath().normalize();
    this.clock = clock;
    this.startedAt = clock.instant();
    try {
      Files.createDirectories(spool);
    } catch (IOException e) {
      throw new DrException("cannot create the WAL spool directory " + spool + ": " + e, e);
    }
  }

  /**
   * The PostgreSQL settings that archive into spoolDir: {@code archive_mode=on}, an {@code
   * archive_command} that copies each finished WAL file there durably, {@code archive_timeout} (a
   * backstop: {@link WalSwitcher} does the timely switching), and {@code wal_recycle=off} so that a
   * segment switched early ends in zeros and compresses to almost nothing. Creates spoolDir.
   */
  public static Map<String, String> postgresSettings(Path spoolDir, Duration archiveTimeout) {
    if (archiveTimeout.toSeconds() < 1) {
      throw new DrException("archive timeout must be at least 1 s (PostgreSQL's archive_timeout has whole seconds), was " + archiveTimeout);
    }
    Path spool = spoolDir.toAbsolutePath().normalize();
    try {
      Files.createDirectories(spool);
    } catch (IOException e) {
      throw new DrException("cannot create the WAL spool directory " + spool + ": " + e, e);
    }
    String dir = shellQuote(spool.toString());
    String tmp = dir + "/.%f.$$";
    Map<String, String> m = new LinkedHashMap<>();
    m.put("archive_mode", "on");
    m.put("archive_command", "cp %p " + tmp + " && sync " + tmp + " && mv -f " + tmp + " " + dir + "/%f && sync " + dir);
    m.put("archive_timeout", archiveTimeout.toSeconds() + "s");
    m.put("wal_recycle", "off");
    return m;
  }

  static String shellQuote(String s) {
    return "'" + s.replace("'", "'\\''") + "'";
  }

  /** Starts the uploader thread. */
  public synchronized void start() {
    if (thread != null) return;
    thread = Thread.ofPlatform().name("wal-archiver").daemon().start(this::loop);
    log.info("WAL archiver: uploading {} to {}", spool, store.describe());
  }

  private void loop() {
    while (!closed) {
      try {
        uploadPending();
        lastError = null;
      } catch (RuntimeException e) {
        if (!String.valueOf(e.getMessage()).equals(lastError)) log.error("WAL archiver: {}", e.getMessage(), e);
        lastError = e.getMessage();
      }
      try {
        Thread.sleep(POLL);
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  /** One pass: uploads every file in the spool (oldest name first); returns how many were uploaded. */
  public int uploadPending() {
    synchronized (lock) {
      loadKnown();
      int n = 0;
      for (Path f : pendingFiles()) {
        if (closed) break;
        if (upload(f)) n++;
      }
      return n;
    }
  }

  private void loadKnown() {
    if (knownLoaded) return;
    for (WalArchive.Entry e : WalArchive.list(store)) archived.add(e.name());
    knownLoaded = true;
  }

  private List<Path> pendingFiles() {
    try (Stream<Path> files = Files.list(spool)) {
      return files.filter(p -> {
        String name = p.getFileName().toString();
        if (name.startsWith(".")) {
          removeIfStale(p);
          return false;
        }
        return WalArchive.isArchivable(name) && !conflicts.contains(name);
      }).sorted().toList();
    } catch (IOException e) {
      throw new DrException("cannot list the WAL spool " + spool + ": " + e, e);
    }
  }

  private void removeIfStale(Path tmp) {
    try {
      FileTime t = Files.getLastModifiedTime(tmp);
      if (Duration.between(t.toInstant(), clock.instant()).compareTo(STALE_TEMP) > 0) Files.deleteIfExists(tmp);
    } catch (IOException e) {
      // an archive_command is renaming it right now
    }
  }

  private boolean upload(Path file) {
    String name = file.getFileName().toString();
    byte[] raw;
    try {
      raw = Files.readAllBytes(file);
    } catch (NoSuchFileException gone) {
      return false;
    } catch (IOException e) {
      throw new DrException("cannot read spool file " + file + ": " + e, e);
    }
    String rawSha = Codec.sha256Hex(raw);
    if (archived.contains(name) && alreadyArchived(name, rawSha, file)) {
      deleteSpoolFile(file);
      return false;
    }
    if (conflicts.contains(name)) return false;
    Instant now = clock.instant();
    byte[] stored = Codec.packWal(raw, rawSha, now);
    String storedSha = Codec.sha256Hex(stored);
    String key = WalArchive.key(name, stored.length, storedSha);
    BlobRef ref = store.put(key, stored);
    if (!ref.sha256().equals(storedSha) || ref.size() != stored.length) {
      throw new DrException("the blob store " + store.describe() + " stored '" + key + "' as " + ref.size() + " bytes with sha256 "
          + ref.sha256() + ", not what was sent; check the store");
    }
    archived.add(name);
    deleteSpoolFile(file);
    lastArchived = name;
    lastArchivedAt = now;
    uploadedFiles++;
    uploadedBytes += raw.length;
    log.debug("archived {} ({} bytes, {} stored) as {}", name, raw.length, stored.length, key);
    return true;
  }

  /** Whether name is in the store with this content; a different content is recorded as a conflict. */
  private boolean alreadyArchived(String name, String rawSha, Path file) {
    List<WalArchive.Entry> existing = WalArchive.list(store, name);
    if (existing.isEmpty()) return false;
    for (WalArchive.Entry e : existing) {
      if (WalArchive.header(store, e).rawSha256().equals(rawSha)) return true;
    }
    conflicts.add(name);
    log.error("WAL archiver: {} is already archived as {} with different content; not overwriting it. Two primaries"
        + " wrote the same WAL file (split brain?). The spool file {} is kept for inspection; delete it once the"
        + " archive is known good", name, existing.get(0).key(), file);
    return false;
  }

  private void deleteSpoolFile(Path file) {
    try {
      Files.deleteIfExists(file);
    } catch (IOException e) {
      throw new DrException("cannot delete uploaded spool file " + file + ": " + e, e);
    }
  }

  /**
   * Waits until every named WAL file is in the repository (uploading from this thread if the
   * archiver thread is not running).
   *
   * @throws DrException on timeout, naming the files still missing
   */
  public void awaitArchived(List<String> names, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    Set<String> missing = new HashSet<>(names);
    while (true) {
      if (thread == null) uploadPending();
      missing.removeIf(n -> archived.contains(n) || WalArchive.isArchived(store, n));
      if (missing.isEmpty()) return;
      if (System.nanoTime() - deadline > 0) {
        throw new DrException("WAL files " + missing.stream().sorted().toList() + " did not reach the archive "
            + store.describe() + " within " + timeout.toSeconds() + " s; check archive_command (PostgreSQL log) and the spool "
            + spool + (lastError != null ? "; last archiver error: " + lastError : ""));
      }
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new DrException("interrupted while waiting for WAL to be archived", e);
      }
    }
  }

  public Status status() {
    int pending = 0;
    Instant oldest = null;
    try (Stream<Path> files = Files.list(spool)) {
      for (Path p : files.toList()) {
        String name = p.getFileName().toString();
        if (name.startsWith(".") || !WalArchive.isArchivable(name)) continue;
        pending++;
        try {
          Instant t = Files.getLastModifiedTime(p).toInstant();
          if (oldest == null || t.isBefore(oldest)) oldest = t;
        } catch (IOException gone) {
          pending--;
        }
      }
    } catch (IOException e) {
      lastError = "cannot list " + spool + ": " + e;
    }
    Instant now = clock.instant();
    double seconds = Math.max(1, Duration.between(startedAt, now).toMillis() / 1000.0);
    return new Status(lastArchived, lastArchivedAt, pending, oldest == null ? Duration.ZERO : Duration.between(oldest, now),
        uploadedBytes / seconds, uploadedFiles, conflicts.stream().sorted().toList(), lastError);
  }

  public Path spoolDir() {
    return spool;
  }

  /** Stops the thread after the file it is uploading; what is left in the spool is uploaded next start. */
  @Override
  public void close() {
    closed = true;
    Thread t = thread;
    if (t != null) {
      try { // not interrupted: an interrupt would abort a blob write half way (FileChannel)
        t.join(Duration.ofSeconds(30));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
