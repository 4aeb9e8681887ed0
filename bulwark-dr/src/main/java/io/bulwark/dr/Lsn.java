package io.bulwark.dr;

import java.util.Locale;

/**
 * A PostgreSQL write-ahead-log position ({@code pg_lsn}, printed as {@code 16/B374D848}), with the
 * name of the 16 MiB WAL segment file that holds it.
 */
public record Lsn(long value) implements Comparable<Lsn> {
  /** PostgreSQL's default (and the embedded binaries') WAL segment size. */
  public static final long SEGMENT_SIZE = 16L * 1024 * 1024;

  public static Lsn parse(String text) {
    int slash = text == null ? -1 : text.indexOf('/');
    if (slash <= 0 || slash == text.length() - 1) {
      throw new IllegalArgumentException("not an LSN (expected like 0/16B3748): " + text);
    }
    long hi = Long.parseLong(text.substring(0, slash), 16);
    long lo = Long.parseLong(text.substring(slash + 1), 16);
    return new Lsn((hi << 32) | lo);
  }

  /** The WAL file name of the segment holding this position on a timeline, e.g. {@code 000000010000000000000003}. */
  public String segmentName(long timeline) {
    long segment = Long.divideUnsigned(value, SEGMENT_SIZE);
    long perXlogId = 0x1_0000_0000L / SEGMENT_SIZE;
    return String.format(Locale.ROOT, "%08X%08X%08X", timeline, segment / perXlogId, segment % perXlogId);
  }

  /** Bytes from other to this (negative when other is ahead). */
  public long minus(Lsn other) {
    return value - other.value;
  }

  @Override
  public int compareTo(Lsn o) {
    return Long.compareUnsigned(value, o.value);
  }

  @Override
  public String toString() {
    return String.format(Locale.ROOT, "%X/%X", value >>> 32, value & 0xFFFF_FFFFL);
  }
}
