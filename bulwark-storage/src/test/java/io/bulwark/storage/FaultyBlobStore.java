package io.bulwark.storage;

import io.bulwark.core.blob.BlobException;
import io.bulwark.core.blob.BlobRef;
import io.bulwark.core.blob.BlobStore;
import java.io.InputStream;
import java.util.List;

/** A real store whose region can be taken down: every call then fails as an unreachable endpoint does. */
final class FaultyBlobStore implements BlobStore {
  final BlobStore inner;
  volatile boolean down;
  /** Calls block until released, as a region whose network is blackholed. */
  volatile java.util.concurrent.CountDownLatch hung;

  FaultyBlobStore(BlobStore inner) {
    this.inner = inner;
  }

  private void check() {
    java.util.concurrent.CountDownLatch h = hung;
    if (h != null) {
      try {
        h.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      throw new BlobException("region hung: timed out (" + inner.describe() + ")");
    }
    if (down) throw new BlobException("region down: connection refused (" + inner.describe() + ")");
  }

  @Override
  public BlobRef put(String key, InputStream data) {
    check();
    return inner.put(key, data);
  }

  @Override
  public byte[] get(BlobRef ref) {
    check();
    return inner.get(ref);
  }

  @Override
  public InputStream open(BlobRef ref) {
    check();
    return inner.open(ref);
  }

  @Override
  public boolean exists(String key) {
    check();
    return inner.exists(key);
  }

  @Override
  public boolean delete(String key) {
    check();
    return inner.delete(key);
  }

  @Override
  public List<String> list(String prefix) {
    check();
    return inner.list(prefix);
  }

  @Override
  public String describe() {
    return inner.describe();
  }
}
