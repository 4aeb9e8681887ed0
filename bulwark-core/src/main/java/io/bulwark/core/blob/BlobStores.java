package io.bulwark.core.blob;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.stream.Collectors;

/**
 * The one way every process opens a blob store from its URI ({@code file:/path},
 * {@code azure://ACCOUNT/CONTAINER}): the API servers, workers, the WAL archiver, restores and the
 * {@code db} commands. The scheme picks the {@link BlobStoreProvider}.
 */
public final class BlobStores {
  private BlobStores() {}

  /** Opens the store {@code uri} names, with secrets from this process's environment or its supervisor. */
  public static BlobStore open(String uri) {
    return open(uri, io.bulwark.core.ProcessSecrets.environment());
  }

  public static BlobStore open(String uri, Map<String, String> environment) {
    URI parsed = parse(uri);
    List<BlobStoreProvider> providers = providers();
    for (BlobStoreProvider p : providers) {
      if (p.scheme().equalsIgnoreCase(parsed.getScheme())) return p.open(parsed, environment);
    }
    throw new BlobException("blob store '" + uri + "': unknown scheme '" + parsed.getScheme() + "'; use one of "
        + providers.stream().map(BlobStoreProvider::example).collect(Collectors.joining(", ")));
  }

  /** Parses a store URI; a bare absolute path is taken as {@code file:} (the form of earlier flags). */
  public static URI parse(String uri) {
    if (uri == null || uri.isBlank()) throw new BlobException("the blob store URI is empty; e.g. file:/var/lib/bulwark/blobs");
    if (uri.startsWith("/")) return java.nio.file.Path.of(uri).toUri();
    try {
      URI u = new URI(uri);
      if (u.getScheme() == null) {
        throw new BlobException("blob store '" + uri + "' has no scheme; write file:/path or azure://ACCOUNT/CONTAINER");
      }
      return u;
    } catch (URISyntaxException e) {
      throw new BlobException("blob store '" + uri + "' is not a URI (" + e.getReason() + "); write file:/path or azure://ACCOUNT/CONTAINER");
    }
  }

  static List<BlobStoreProvider> providers() {
    return ServiceLoader.load(BlobStoreProvider.class, BlobStores.class.getClassLoader()).stream()
        .map(ServiceLoader.Provider::get).toList();
  }
}
