package io.bulwark.storage;

import io.bulwark.core.blob.BlobException;
import io.bulwark.core.blob.BlobStore;
import io.bulwark.core.blob.BlobStoreProvider;
import java.net.URI;
import java.nio.file.Path;
import java.util.Map;

/** {@code file:/path}: a {@link FileSystemBlobStore} rooted at the path. */
public final class FileSystemBlobStoreProvider implements BlobStoreProvider {
  @Override
  public String scheme() {
    return "file";
  }

  @Override
  public String example() {
    return "file:/var/lib/bulwark/blobs";
  }

  @Override
  public BlobStore open(URI uri, Map<String, String> environment) {
    if (uri.getPath() == null || uri.getPath().isEmpty() || (uri.getAuthority() != null && !uri.getAuthority().isEmpty())) {
      throw new BlobException("blob store '" + uri + "': a file store is file:/absolute/path (no host), e.g. " + example());
    }
    return new FileSystemBlobStore(Path.of(uri));
  }
}
