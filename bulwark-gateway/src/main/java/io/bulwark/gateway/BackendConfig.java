package io.bulwark.gateway;

import io.bulwark.core.BulwarkException;
import java.net.URI;
import java.util.regex.Pattern;

/**
 * One API server behind the gateway.
 *
 * @param name unique name, used in the admin API, logs and metrics ({@code [A-Za-z0-9._-]}, at most 64)
 * @param url base URL, {@code http://host:port} (no path, query or user info)
 * @param backup a backup server gets traffic only while no primary server is usable (HAProxy {@code backup})
 */
public record BackendConfig(String name, URI url, boolean backup) {
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,64}");

  public BackendConfig {
    if (name == null || !NAME.matcher(name).matches()) {
      throw new BulwarkException("backend name must be 1-64 letters, digits, '.', '_' or '-', got '" + name + "'");
    }
    if (url == null) throw new BulwarkException("backend " + name + " needs a url, e.g. http://127.0.0.1:8080");
    if (!"http".equalsIgnoreCase(url.getScheme())) {
      throw new BulwarkException("backend " + name + " url must start with http://, got " + url);
    }
    if (url.getHost() == null || url.getPort() < 1) {
      throw new BulwarkException("backend " + name + " url must name a host and a port, e.g. http://127.0.0.1:8080, got " + url);
    }
    if (url.getUserInfo() != null || url.getQuery() != null || url.getFragment() != null
        || (url.getPath() != null && !url.getPath().isEmpty() && !url.getPath().equals("/"))) {
      throw new BulwarkException("backend " + name + " url must be just http://host:port (no path, query or user), got " + url);
    }
  }

  public static BackendConfig primary(String name, String url) {
    return new BackendConfig(name, URI.create(url), false);
  }

  public static BackendConfig backup(String name, String url) {
    return new BackendConfig(name, URI.create(url), true);
  }

  /** {@code http://host:port}, without a trailing slash. */
  public String origin() {
    return "http://" + url.getHost() + ":" + url.getPort();
  }
}
