package io.bulwark.azure;

import io.bulwark.core.blob.BlobException;
import io.bulwark.core.blob.BlobStore;
import io.bulwark.core.blob.BlobStoreProvider;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

/**
 * {@code azure://ACCOUNT/CONTAINER}: one container of an Azure storage account ({@link AzureBlobStore}).
 * The connection string (account key or SAS, endpoint) is never in the URI: it comes from the
 * environment variable {@code BULWARK_AZURE_CONNECTION_STRING_<ACCOUNT>} (the account name in upper
 * case, other characters as '_'), or from the file {@code BULWARK_AZURE_CONNECTION_STRING_FILE_<ACCOUNT>}
 * names (mode 0600). {@code ?create=true} creates a missing container (what `up --storage azurite`
 * does); otherwise a missing container is refused at start.
 */
public final class AzureBlobStoreProvider implements BlobStoreProvider {
  public static final String ENV_PREFIX = io.bulwark.core.ProcessSecrets.AZURE_CONNECTION_STRING_PREFIX;

  @Override
  public String scheme() {
    return "azure";
  }

  @Override
  public String example() {
    return "azure://ACCOUNT/CONTAINER";
  }

  /** The environment variable holding {@code account}'s connection string. */
  public static String variable(String account) {
    return ENV_PREFIX + account.toUpperCase(Locale.ROOT).replaceAll("[^A-Z0-9]", "_");
  }

  @Override
  public BlobStore open(URI uri, Map<String, String> environment) {
    String account = uri.getHost();
    String path = uri.getPath() == null ? "" : uri.getPath().replaceAll("^/+|/+$", "");
    if (account == null || path.isEmpty() || path.contains("/")) {
      throw new BlobException("blob store '" + uri + "': write azure://ACCOUNT/CONTAINER, e.g. azure://bulwarkprod/blobs");
    }
    String variable = variable(account);
    String connection = environment.get(variable);
    String file = environment.get(ENV_PREFIX + "FILE_" + variable.substring(ENV_PREFIX.length()));
    if ((connection == null || connection.isBlank()) && file != null) {
      try {
        connection = Files.readString(Path.of(file)).strip();
      } catch (IOException e) {
        throw new BlobException("cannot read the connection string of Azure account " + account + " from " + file + ": " + e.getMessage(), e);
      }
    }
    if (connection == null || connection.isBlank()) {
      throw new BlobException("blob store " + uri + ": no connection string for Azure account " + account + "; set " + variable
          + " (or " + ENV_PREFIX + "FILE_" + variable.substring(ENV_PREFIX.length()) + " to a 0600 file holding it)");
    }
    boolean create = uri.getQuery() != null && uri.getQuery().contains("create=true");
    return AzureBlobStore.connect(connection, path, create);
  }
}
