package io.bulwark.core.blob;

import java.net.URI;
import java.util.Map;

/**
 * Opens the {@link BlobStore} a URI names, for one scheme: {@code file} (bulwark-storage),
 * {@code azure} (bulwark-azure). Found with {@link java.util.ServiceLoader}
 * ({@code META-INF/services/io.bulwark.core.blob.BlobStoreProvider}), so a backend is a module on the
 * class path and nothing else: an S3 one would be a third.
 */
public interface BlobStoreProvider {
  /** The URI scheme this provider opens, e.g. {@code file}. */
  String scheme();

  /** What a URI of this scheme looks like, for error messages, e.g. {@code file:/var/lib/bulwark/blobs}. */
  String example();

  /**
   * Opens the store. Secrets (account keys, connection strings) come from {@code environment} or from
   * files it names, never from the URI, which is shown in logs and status.
   *
   * @throws BlobException with one line saying what is wrong and how to fix it
   */
  BlobStore open(URI uri, Map<String, String> environment);
}
