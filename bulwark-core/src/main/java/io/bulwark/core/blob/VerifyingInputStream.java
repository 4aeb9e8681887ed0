package io.bulwark.core.blob;

import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * A blob's bytes as they are read, hashed on the way: at end of data, a size or SHA-256 other than
 * the {@link BlobRef}'s throws {@link BlobException.Corrupt} (as does reading past the size), and
 * every read after that fails the same way. What every backend's {@link BlobStore#open} returns.
 */
public final class VerifyingInputStream extends InputStream {
  private final InputStream in;
  private final BlobRef ref;
  private final String store;
  private final MessageDigest sha;
  private long count;
  private boolean verified;
  private BlobException.Corrupt failure;

  /** @param store the store's description, for the message */
  public VerifyingInputStream(InputStream in, BlobRef ref, String store) {
    this.in = in;
    this.ref = ref;
    this.store = store;
    try {
      this.sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime provides SHA-256", e);
    }
  }

  @Override
  public int read() throws IOException {
    byte[] one = new byte[1];
    return read(one, 0, 1) == -1 ? -1 : one[0] & 0xff;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    if (failure != null) throw failure; // once the data is known bad, every read fails the same way
    int n = in.read(b, off, len);
    if (n > 0) {
      sha.update(b, off, n);
      count += n;
      if (count > ref.size()) throw corrupt("more than " + ref.size() + " bytes");
    } else if (n == -1 && !verified) {
      String actual = HexFormat.of().formatHex(sha.digest());
      if (count != ref.size()) throw corrupt(count + " bytes instead of " + ref.size() + " (sha256 " + actual + ")");
      if (!actual.equals(ref.sha256())) throw corrupt(actual);
      verified = true;
    }
    return n;
  }

  private BlobException.Corrupt corrupt(String actual) {
    failure = new BlobException.Corrupt(store, ref.key(), ref.sha256(), actual);
    return failure;
  }

  @Override
  public int available() throws IOException {
    return in.available();
  }

  @Override
  public void close() throws IOException {
    in.close();
  }
}
