package io.bulwark.dr;

import io.bulwark.core.blob.BlobException;
import io.bulwark.core.blob.BlobRef;
import io.bulwark.core.blob.BlobStore;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The backups in a repository, the window of times they can restore to, and retention.
 *
 * <p>Retention keeps every backup that finished inside the window (now − retention … now) and the
 * newest one that finished before it, which is what a restore to the window's first second needs;
 * so the only backup is never pruned. WAL older than the oldest kept backup's start segment goes
 * too (timeline history files are tiny and always kept). A backup's manifest is deleted before its
 * objects, so a prune cut short leaves an incomplete backup, which is ignored and pruned next time.
 */
public final class BackupCatalog {
  private static final Logger log = LoggerFactory.getLogger(BackupCatalog.class);
  static final String MANIFESTS = "manifests/";
  static final String BACKUPS = "backups/";
  private static final Pattern MANIFEST_KEY = Pattern.compile("manifests/(.+)-(\\d+)-([0-9a-f]{64})\\.json");
  private static final Duration INCOMPLETE_GRACE = Duration.ofDays(1);

  private BackupCatalog() {}

  /** The times a restore can reach: from the oldest backup's end to the newest archived WAL. */
  public record Window(Instant from, Instant to) {
    public boolean contains(Instant t) {
      return !t.isBefore(from) && !t.isAfter(to);
    }

    @Override
    public String toString() {
      return from + " .. " + to;
    }
  }

  /** What {@code bulwark db backups} shows. */
  public record Listing(List<BackupManifest> backups, Optional<Window> window, int walFiles, String newestWal) {}

  /** What one pruning pass removed. */
  public record Pruned(List<String> backups, int walFiles) {}

  static String objectPrefix(String label) {
    return BACKUPS + label + "/";
  }

  static String manifestPrefix(String label) {
    return MANIFESTS + label + "-";
  }

  static void writeManifest(BlobStore store, BackupManifest m) {
    byte[] json = m.toJson();
    String key = MANIFESTS + m.label() + "-" + json.length + "-" + Codec.sha256Hex(json) + ".json";
    store.put(key, json);
  }

  /** The complete backups, oldest first. A manifest that fails its checksum is reported, not skipped. */
  public static List<BackupManifest> backups(BlobStore store) {
    List<BackupManifest> out = new ArrayList<>();
    for (String key : store.list(MANIFESTS)) {
      Matcher m = MANIFEST_KEY.matcher(key);
      if (!m.matches()) continue;
      byte[] json;
      try {
        json = store.get(new BlobRef(key, Long.parseLong(m.group(2)), m.group(3)));
      } catch (BlobException e) {
        throw new DrException("backup manifest '" + key + "' is corrupt or unreadable: " + e.getMessage()
            + "; that backup cannot be used. Delete the manifest to ignore it", e);
      }
      out.add(BackupManifest.fromJson(json, key));
    }
    out.sort(Comparator.comparing(BackupManifest::stoppedAt));
    return out;
  }

  public static Listing list(BlobStore store) {
    List<BackupManifest> backups = backups(store);
    List<WalArchive.Entry> wal = WalArchive.list(store);
    String newest = wal.stream().filter(WalArchive.Entry::isSegment)
        .max(Comparator.comparingLong(WalArchive.Entry::segno).thenComparingLong(WalArchive.Entry::timeline))
        .map(WalArchive.Entry::name).orElse(null);
    return new Listing(backups, window(store, backups, wal), wal.size(), newest);
  }

  static Optional<Window> window(BlobStore store, List<BackupManifest> backups, List<WalArchive.Entry> wal) {
    if (backups.isEmpty()) return Optional.empty();
    Instant from = backups.get(0).stoppedAt();
    Instant newestBackup = backups.get(backups.size() - 1).stoppedAt();
    Instant to = WalArchive.newestArchiveTime(store, wal).filter(t -> t.isAfter(newestBackup)).orElse(newestBackup);
    return Optional.of(new Window(from, to));
  }

  /** Applies retention at time now. */
  public static Pruned prune(BlobStore store, Duration retention, Instant now) {
    List<BackupManifest> backups = backups(store);
    if (backups.isEmpty()) return new Pruned(List.of(), 0);
    Instant windowStart = now.minus(retention);
    List<BackupManifest> keep = new ArrayList<>();
    BackupManifest newestBefore = null;
    for (BackupManifest b : backups) {
      if (b.stoppedAt().isBefore(windowStart)) newestBefore = b;
      else keep.add(b);
    }
    if (newestBefore != null) keep.add(0, newestBefore);
    Set<String> kept = keep.stream().map(BackupManifest::label).collect(Collectors.toSet());
    List<String> removed = new ArrayList<>();
    for (BackupManifest b : backups) {
      if (kept.contains(b.label())) continue;
      store.list(manifestPrefix(b.label())).stream().filter(k -> isManifestOf(k, b.label())).forEach(store::delete);
      store.list(objectPrefix(b.label())).forEach(store::delete);
      removed.add(b.label());
    }
    removeIncomplete(store, kept, now);
    long oldestNeeded = keep.stream().mapToLong(b -> WalArchive.segno(b.startSegment())).min().orElseThrow();
    int wal = 0;
    for (WalArchive.Entry e : WalArchive.list(store)) {
      if (e.isHistory() || e.name().length() < 24) continue;
      if (WalArchive.segno(e.name()) < oldestNeeded) {
        store.delete(e.key());
        wal++;
      }
    }
    if (!removed.isEmpty() || wal > 0) {
      log.info("retention {}: removed backups {} and {} WAL files older than segment {}", retention, removed, wal,
          WalArchive.segmentName(keep.get(0).timeline(), oldestNeeded));
    }
    return new Pruned(removed, wal);
  }

  private static boolean isManifestOf(String key, String label) {
    Matcher m = MANIFEST_KEY.matcher(key);
    return m.matches() && m.group(1).equals(label);
  }

  /** Objects of a backup that never got a manifest (it failed), once they are a day old. */
  private static void removeIncomplete(BlobStore store, Set<String> kept, Instant now) {
    Set<String> labels = store.list(BACKUPS).stream().map(k -> k.substring(BACKUPS.length(), k.indexOf('/', BACKUPS.length())))
        .collect(Collectors.toSet());
    Set<String> complete = backups(store).stream().map(BackupManifest::label).collect(Collectors.toSet());
    for (String label : labels) {
      if (kept.contains(label) || complete.contains(label)) continue;
      Instant started;
      try {
        started = Instant.from(BaseBackups.LABEL.parse(label.replaceFirst("-\\d+$", "")));
      } catch (DateTimeParseException e) {
        continue; // not ours
      }
      if (Duration.between(started, now).compareTo(INCOMPLETE_GRACE) > 0) {
        store.list(objectPrefix(label)).forEach(store::delete);
        log.info("removed incomplete backup {} (no manifest)", label);
      }
    }
  }
}
