package io.bulwark.dr;

import com.github.luben.zstd.ZstdInputStream;
import com.github.luben.zstd.ZstdOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * How the backup repository stores bytes: zstd frames with zstd's content checksum, and for WAL a
 * 52-byte header in front ({@code BWZ1}, uncompressed length, time archived, SHA-256 of the
 * uncompressed content) so that a restore can verify every segment without any other index. The
 * BlobStore verifies the stored (compressed) bytes; this class verifies what they decompress to.
 */
final class Codec {
  static final int WAL_LEVEL = 1; // WAL is on the archive-lag path: the fastest level
  static final int BACKUP_LEVEL = 3;
  private static final byte[] MAGIC = "BWZ1".getBytes(StandardCharsets.US_ASCII);
  static final int HEADER_LENGTH = 4 + 8 + 8 + 32;
  private static final HexFormat HEX = HexFormat.of();

  private Codec() {}

  /** What the header of an archived WAL file says about its content. */
  record WalHeader(long rawLength, Instant archivedAt, String rawSha256) {}

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime provides SHA-256", e);
    }
  }

  static String sha256Hex(byte[] data) {
    return HEX.formatHex(sha256().digest(data));
  }

  static String hex(byte[] digest) {
    return HEX.formatHex(digest);
  }

  /** Header plus compressed content of one WAL file. */
  static byte[] packWal(byte[] raw, String rawSha256, Instant archivedAt) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(raw.length / 4 + 1024);
    ByteBuffer header = ByteBuffer.allocate(HEADER_LENGTH);
    header.put(MAGIC).putLong(raw.length).putLong(archivedAt.toEpochMilli()).put(HEX.parseHex(rawSha256));
    out.writeBytes(header.array());
    try (ZstdOutputStream z = new ZstdOutputStream(out, WAL_LEVEL)) {
      z.setChecksum(true);
      z.write(raw);
    } catch (IOException e) {
      throw new DrException("zstd compression failed: " + e, e);
    }
    return out.toByteArray();
  }

  static WalHeader readHeader(InputStream in, String key) throws IOException {
    byte[] h = new byte[HEADER_LENGTH];
    try {
      new DataInputStream(in).readFully(h);
    } catch (EOFException e) {
      throw new DrException("archive object '" + key + "' is corrupt: shorter than its " + HEADER_LENGTH + "-byte header");
    }
    if (!Arrays.equals(h, 0, 4, MAGIC, 0, 4)) {
      throw new DrException("archive object '" + key + "' is corrupt: it does not start with the BWZ1 header");
    }
    ByteBuffer b = ByteBuffer.wrap(h, 4, HEADER_LENGTH - 4);
    long length = b.getLong();
    Instant at = Instant.ofEpochMilli(b.getLong());
    byte[] sha = new byte[32];
    b.get(sha);
    return new WalHeader(length, at, HEX.formatHex(sha));
  }

  /**
   * Decompresses in to out, returning the SHA-256 (hex) and length of what was written. Errors of
   * the compressed stream (including zstd's own checksum) are reported against key.
   */
  static Digest decompress(InputStream in, OutputStream out, String key) throws IOException {
    MessageDigest sha = sha256();
    long n = 0;
    InputStream notClosing = new FilterInputStream(in) {
      @Override
      public void close() {}
    };
    try (ZstdInputStream z = new ZstdInputStream(notClosing)) {
      byte[] buf = new byte[256 * 1024];
      for (int r; (r = z.read(buf)) != -1; ) {
        sha.update(buf, 0, r);
        out.write(buf, 0, r);
        n += r;
      }
    } catch (com.github.luben.zstd.ZstdIOException e) {
      throw new DrException("archive object '" + key + "' is corrupt: zstd cannot decompress it (" + e.getMessage() + ")", e);
    }
    // Reading to the end is what makes the BlobStore check the stored bytes' checksum.
    if (in.read() != -1) throw new DrException("archive object '" + key + "' is corrupt: data after its zstd frame");
    return new Digest(n, HEX.formatHex(sha.digest()));
  }

  record Digest(long length, String sha256) {}

  /**
   * Reads a source and yields its zstd compression, hashing the source as it goes, so that a file is
   * compressed straight into {@code BlobStore.put} without a temporary copy. zstd's worker threads
   * compress while this thread reads.
   */
  static final class CompressingInputStream extends InputStream {
    private final InputStream source;
    private final MessageDigest sha = sha256();
    private final Buffer buffer = new Buffer();
    private final ZstdOutputStream zstd;
    private final byte[] chunk = new byte[256 * 1024];
    private int pos;
    private long rawLength;
    private boolean eof;

    CompressingInputStream(InputStream source, int level, int workers) throws IOException {
      this.source = source;
      this.zstd = new ZstdOutputStream(buffer, level);
      zstd.setChecksum(true);
      if (workers > 1) zstd.setWorkers(workers);
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      return read(one, 0, 1) == -1 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      while (pos == buffer.size()) {
        if (eof) return -1;
        buffer.reset();
        pos = 0;
        int n = source.read(chunk);
        if (n == -1) {
          zstd.close();
          eof = true;
        } else {
          sha.update(chunk, 0, n);
          rawLength += n;
          zstd.write(chunk, 0, n);
        }
      }
      int n = Math.min(len, buffer.size() - pos);
      System.arraycopy(buffer.array(), pos, b, off, n);
      pos += n;
      return n;
    }

    long rawLength() {
      return rawLength;
    }

    /** SHA-256 of the source; valid once this stream has returned -1. */
    String rawSha256() {
      return HEX.formatHex(sha.digest());
    }

    @Override
    public void close() throws IOException {
      try {
        source.close();
      } finally {
        if (!eof) zstd.close();
      }
    }

    private static final class Buffer extends ByteArrayOutputStream {
      byte[] array() {
        return buf;
      }
    }
  }
}
