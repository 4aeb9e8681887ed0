package io.bulwark.storage;

import io.bulwark.core.blob.BlobException;
import io.bulwark.core.blob.BlobRef;
import io.bulwark.core.blob.BlobStore;
import java.io.InputStream;
import java.util.List;
import java.util.function.Supplier;

/**
 * A region's store that may be unreachable when the process starts: an API server or worker that
 * (re)starts during a region outage must start on the other region, not fail. Opening is tried at
 * once; a store that cannot be reached ({@link BlobException.Unavailable}) is opened again on use, at
 * most every {@value #RETRY_MS} ms, each call meanwhile failing as unavailable (the replicated store
 * then uses the other region). Any other failure to open (a refused key, a missing container) is a
 * set-up error and propagates at once.
 */
public final class DeferredBlobStore implements BlobStore {
  static final long RETRY_MS = 2_000;

  private final String description;
  private final Supplier<BlobStore> opener;
  private volatile BlobStore store;
  private volatile BlobException.Unavailable lastFailure;
  private long lastTryNanos;

  public DeferredBlobStore(String description, Supplier<BlobStore> opener) {
    this.description = description;
    this.opener = opener;
    try {
      store = opener.get();
    } catch (BlobException.Unavailable e) {
      lastFailure = e;
      lastTryNanos = System.nanoTime();
    }
  }

  /** Whether the store was reached (at start or since). */
  public boolean connected() {
    return store != null;
  }

  /** Why it is not connected, while it is not. */
  public BlobException.Unavailable lastFailure() {
    return lastFailure;
  }

  private BlobStore store() {
    BlobStore s = store;
    if (s != null) return s;
    synchronized (this) {
      if (store != null) return store;
      if (System.nanoTime() - lastTryNanos < RETRY_MS * 1_000_000) {
        throw new BlobException.Unavailable(description + " is not reachable yet: " + lastFailure.getMessage(), lastFailure);
      }
      lastTryNanos = System.nanoTime();
      try {
        store = opener.get();
        return store;
      } catch (BlobException.Unavailable e) {
        lastFailure = e;
        throw e;
      }
    }
  }

  @Override
  public BlobRef put(String key, InputStream data) {
    return store().put(key, data);
  }

  @Override
  public byte[] get(BlobRef ref) {
    return store().get(ref);
  }

  @Override
  public InputStream open(BlobRef ref) {
    return store().open(ref);
  }

  @Override
  public boolean exists(String key) {
    return store().exists(key);
  }

  @Override
  public boolean delete(String key) {
    return store().delete(key);
  }

  @Override
  public List<String> list(String prefix) {
    return store().list(prefix);
  }

  @Override
  public String describe() {
    BlobStore s = store;
    return s != null ? s.describe() : description;
  }

  @Override
  public void close() {
    BlobStore s = store;
    if (s != null) s.close();
  }
}
