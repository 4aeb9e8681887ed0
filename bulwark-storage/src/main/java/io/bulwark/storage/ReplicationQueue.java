package io.bulwark.storage;

import io.bulwark.core.blob.BlobException;
import io.bulwark.core.blob.BlobRef;
import io.bulwark.core.io.Fs;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * The copies one region still owes the other, on disk so that a restart loses none: one small file
 * per pending copy ({@code <sha256(key)>.<target-region>}, the key inside; written atomically and
 * fsynced before the write it follows is acknowledged), removed once the copy is verified in the
 * target region. A later write of the same key to the same region replaces its entry; a write that
 * reached the region itself clears it ({@link #forget}). Files that are not entries (a temp file left
 * by a crash, a torn file) are skipped and removed.
 */
public final class ReplicationQueue {
  /** A copy owed: {@code ref} must be put into region {@code to} from region {@code from} (or deleted there). */
  public record Entry(BlobRef ref, String key, String from, String to, boolean delete, Instant at) {}

  private final Path dir;

  public ReplicationQueue(Path dir) {
    this.dir = dir;
    try {
      Fs.createPrivateDir(dir);
    } catch (IOException e) {
      throw new BlobException("cannot create the replication queue " + dir + ": " + e.getMessage(), e);
    }
  }

  /** Records that {@code ref} must be copied from region {@code from} to region {@code to}. */
  public void copy(BlobRef ref, String from, String to) {
    write(new Entry(ref, ref.key(), from, to, false, Instant.now()));
  }

  /** Records that {@code key} must be deleted in region {@code to}. */
  public void delete(String key, String to) {
    write(new Entry(null, key, null, to, true, Instant.now()));
  }

  private void write(Entry e) {
    String text = e.delete()
        ? "delete\n" + e.key() + "\n" + e.to() + "\n" + e.at() + "\n"
        : "copy\n" + e.key() + "\n" + e.to() + "\n" + e.at() + "\n" + e.ref().size() + "\n" + e.ref().sha256() + "\n" + e.from() + "\n";
    try {
      Fs.writeAtomically(file(e.key(), e.to()), text.getBytes(StandardCharsets.UTF_8));
    } catch (IOException x) {
      throw new BlobException("cannot record a pending copy of " + e.key() + " in " + dir + ": " + x.getMessage(), x);
    }
  }

  /** {@code key} was just written to region {@code to} itself: any copy owed there is moot. */
  public void forget(String key, String to) {
    try {
      Files.deleteIfExists(file(key, to));
    } catch (IOException x) {
      throw new BlobException("cannot remove a pending copy of " + key + " from " + dir + ": " + x.getMessage(), x);
    }
  }

  /** The copy is done (or no longer needed): forget it, unless a newer entry replaced it meanwhile. */
  public void done(Entry e) {
    Path f = file(e.key(), e.to());
    try {
      Optional<Entry> now = read(f);
      if (now.isPresent() && now.get().at().equals(e.at())) Files.deleteIfExists(f);
    } catch (IOException x) {
      throw new BlobException("cannot remove " + f + ": " + x.getMessage(), x);
    }
  }

  /** Up to {@code limit} pending entries, oldest first. */
  public List<Entry> pending(int limit) {
    List<Entry> all = new ArrayList<>();
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, ReplicationQueue::isEntry)) {
      for (Path f : files) {
        Optional<Entry> e;
        try {
          e = read(f);
        } catch (RuntimeException torn) {
          e = Optional.empty();
        }
        if (e.isPresent()) all.add(e.get());
        else if (Files.exists(f)) Files.deleteIfExists(f); // not an entry we wrote (writeAtomically makes a torn one impossible)
      }
    } catch (IOException x) {
      throw new BlobException("cannot read the replication queue " + dir + ": " + x.getMessage(), x);
    }
    all.sort(Comparator.comparing(Entry::at));
    return all.size() > limit ? List.copyOf(all.subList(0, limit)) : all;
  }

  /** How many copies are owed. */
  public int size() {
    try (var files = Files.list(dir)) {
      return (int) files.filter(ReplicationQueue::isEntry).count();
    } catch (IOException x) {
      return -1;
    }
  }

  /** When the oldest pending copy was recorded, if any: the replication lag is now minus this. */
  public Optional<Instant> oldest() {
    List<Entry> first = pending(Integer.MAX_VALUE);
    return first.isEmpty() ? Optional.empty() : Optional.of(first.get(0).at());
  }

  private static boolean isEntry(Path p) {
    String n = p.getFileName().toString();
    return !n.startsWith(".") && !n.endsWith(".tmp");
  }

  /** Named by the key's SHA-256: any key fits in a file name (keys may be 512 characters). */
  private Path file(String key, String to) {
    try {
      byte[] h = java.security.MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
      return dir.resolve(java.util.HexFormat.of().formatHex(h) + "." + to);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime provides SHA-256", e);
    }
  }

  private static Optional<Entry> read(Path f) throws IOException {
    List<String> l;
    try {
      l = Files.readAllLines(f, StandardCharsets.UTF_8);
    } catch (NoSuchFileException gone) {
      return Optional.empty();
    }
    if (l.size() >= 4 && l.get(0).equals("delete")) {
      return Optional.of(new Entry(null, l.get(1), null, l.get(2), true, Instant.parse(l.get(3))));
    }
    if (l.size() >= 7 && l.get(0).equals("copy")) {
      return Optional.of(new Entry(new BlobRef(l.get(1), Long.parseLong(l.get(4)), l.get(5)), l.get(1), l.get(6), l.get(2), false,
          Instant.parse(l.get(3))));
    }
    return Optional.empty(); // a torn or foreign file: writeAtomically makes the first impossible
  }
}
