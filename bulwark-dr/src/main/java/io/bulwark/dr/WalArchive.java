package io.bulwark.dr;

import io.bulwark.core.blob.BlobException;
import io.bulwark.core.blob.BlobRef;
import io.bulwark.core.blob.BlobStore;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The WAL half of the backup repository. Each archived file is one object whose key carries the
 * size and SHA-256 of its stored bytes (like pgBackRest's {@code <segment>-<sha1>.gz}), so the
 * archive is self-describing: a restore needs nothing but the BlobStore. Segments are grouped by
 * timeline and log id, 256 to a folder:
 *
 * <pre>
 *   wal/0000000100000000/000000010000000000000003-5532-ab12…ef.zst     a segment (also .partial, .backup)
 *   wal/00000002.history-98-3c4d…01.zst                                 a timeline history file
 * </pre>
 */
public final class WalArchive {
  static final String PREFIX = "wal/";
  private static final Pattern KEY = Pattern.compile("wal/(?:[0-9A-F]{16}/)?([0-9A-F]{8}[0-9A-Za-z.]*)-(\\d+)-([0-9a-f]{64})\\.zst");
  private static final Pattern SEGMENT = Pattern.compile("[0-9A-F]{24}");
  private static final Pattern HISTORY = Pattern.compile("([0-9A-F]{8})\\.history");
  static final long SEGMENTS_PER_LOG = 0x1_0000_0000L / Lsn.SEGMENT_SIZE;

  private WalArchive() {}

  /** One archived file: its PostgreSQL file name and the object holding it. */
  public record Entry(String name, String key, long storedSize, String storedSha256) {
    BlobRef ref() {
      return new BlobRef(key, storedSize, storedSha256);
    }

    public boolean isSegment() {
      return SEGMENT.matcher(name).matches();
    }

    public boolean isHistory() {
      return HISTORY.matcher(name).matches();
    }

    public long timeline() {
      return Long.parseLong(name.substring(0, 8), 16);
    }

    /** The segment number (log id × 256 + segment), for segments and .partial files. */
    public long segno() {
      return WalArchive.segno(name);
    }
  }

  static long segno(String segmentName) {
    return Long.parseLong(segmentName.substring(8, 16), 16) * SEGMENTS_PER_LOG + Long.parseLong(segmentName.substring(16, 24), 16);
  }

  static String segmentName(long timeline, long segno) {
    return String.format(Locale.ROOT, "%08X%08X%08X", timeline, segno / SEGMENTS_PER_LOG, segno % SEGMENTS_PER_LOG);
  }

  static boolean isArchivable(String fileName) {
    return fileName.length() >= 8 && fileName.matches("[0-9A-F]{8}[0-9A-Za-z.]*") && fileName.length() <= 64;
  }

  static String key(String name, long storedSize, String storedSha256) {
    return prefix(name) + storedSize + "-" + storedSha256 + ".zst";
  }

  /** The prefix under which the objects for one file name are. */
  static String prefix(String name) {
    boolean segmentLike = name.length() >= 24 && SEGMENT.matcher(name.substring(0, 24)).matches();
    return PREFIX + (segmentLike ? name.substring(0, 16) + "/" : "") + name + "-";
  }

  static Optional<Entry> parse(String key) {
    Matcher m = KEY.matcher(key);
    if (!m.matches()) return Optional.empty();
    return Optional.of(new Entry(m.group(1), key, Long.parseLong(m.group(2)), m.group(3)));
  }

  /** Every archived file, in key order. */
  public static List<Entry> list(BlobStore store) {
    return store.list(PREFIX).stream().map(WalArchive::parse).flatMap(Optional::stream).toList();
  }

  /** The objects archived under one file name (normally one; two means conflicting content). */
  static List<Entry> list(BlobStore store, String name) {
    return store.list(prefix(name)).stream().map(WalArchive::parse).flatMap(Optional::stream)
        .filter(e -> e.name().equals(name)).toList();
  }

  public static boolean isArchived(BlobStore store, String name) {
    return !list(store, name).isEmpty();
  }

  /** Reads an object's header (not its content, so not verified: for listings only). */
  static Codec.WalHeader header(BlobStore store, Entry e) {
    try (InputStream in = store.open(e.ref())) {
      return Codec.readHeader(in, e.key());
    } catch (IOException ex) {
      throw new DrException("cannot read archive object '" + e.key() + "' in " + store.describe() + ": " + ex, ex);
    }
  }

  /**
   * Downloads, decompresses and verifies one archived file into target: the stored bytes against the
   * key's checksum (by the BlobStore), the content against the header's.
   *
   * @throws DrException naming the object if it is missing or corrupt
   */
  static Codec.WalHeader fetch(BlobStore store, Entry e, Path target) {
    try (InputStream in = store.open(e.ref()); OutputStream out = Files.newOutputStream(target)) {
      Codec.WalHeader h = Codec.readHeader(in, e.key());
      Codec.Digest d = Codec.decompress(in, out, e.key());
      if (d.length() != h.rawLength() || !d.sha256().equals(h.rawSha256())) {
        throw new DrException("archive object '" + e.key() + "' is corrupt: its content has sha256 " + d.sha256() + " ("
            + d.length() + " bytes), the header says " + h.rawSha256() + " (" + h.rawLength() + " bytes)");
      }
      return h;
    } catch (BlobException.NotFound nf) {
      throw new DrException("archive object '" + e.key() + "' is missing from " + store.describe()
          + "; the restore cannot go on without it: " + nf.getMessage(), nf);
    } catch (BlobException ex) {
      throw new DrException("archive object '" + e.key() + "' is corrupt or unreadable: " + ex.getMessage(), ex);
    } catch (IOException ex) {
      throw new DrException("cannot fetch archive object '" + e.key() + "' into " + target + ": " + ex, ex);
    }
  }

  /** The newest segment's archive time: the end of the restorable window. */
  static Optional<Instant> newestArchiveTime(BlobStore store, List<Entry> entries) {
    List<Entry> newest = entries.stream().filter(Entry::isSegment)
        .sorted(Comparator.comparingLong(Entry::segno).thenComparingLong(Entry::timeline).reversed()).limit(2).toList();
    return newest.stream().map(e -> header(store, e).archivedAt()).max(Comparator.naturalOrder());
  }

  // ------------------------------------------------------------------ timelines

  /** One line of a timeline history file: timeline tli ended (switched to a child) at end. */
  record TimelineSwitch(long tli, Lsn end) {}

  static List<TimelineSwitch> parseHistory(String text) {
    List<TimelineSwitch> out = new ArrayList<>();
    for (String line : text.split("\n")) {
      String l = line.strip();
      if (l.isEmpty() || l.startsWith("#")) continue;
      String[] f = l.split("\\s+");
      out.add(new TimelineSwitch(Long.parseLong(f[0]), Lsn.parse(f[1])));
    }
    return out;
  }

  static String readSmall(BlobStore store, Entry e) {
    try (InputStream in = store.open(e.ref())) {
      Codec.readHeader(in, e.key());
      java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
      Codec.decompress(in, out, e.key());
      return out.toString(StandardCharsets.UTF_8);
    } catch (IOException ex) {
      throw new DrException("cannot read archive object '" + e.key() + "': " + ex, ex);
    } catch (BlobException ex) {
      throw new DrException("archive object '" + e.key() + "' is corrupt or missing: " + ex.getMessage(), ex);
    }
  }
}
