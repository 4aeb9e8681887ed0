package io.bulwark.gateway;

import io.bulwark.core.BulwarkException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Gateway settings, validated on construction.
 *
 * @param name instance name (logs, thread names)
 * @param host interface the proxy listens on
 * @param port proxy port (0 = any free port)
 * @param adminHost interface of the admin API; it has no authentication, so it must be a loopback address
 * @param adminPort admin API port (0 = any free port)
 * @param backends the API servers, primaries and backups, in priority order (the first usable backup is used)
 * @param checks active health checks
 * @param maxBodyBytes largest request body accepted; bodies are buffered (so a failed request can be
 *     retried on another server) and larger ones get 413 without reaching a server
 * @param upstreamConnectTimeout how long connecting to a server may take before the attempt fails (and
 *     is retried elsewhere)
 * @param upstreamTimeout deadline for a whole proxied request, retry included; longer than the API's
 *     longest long poll ({@code ?wait=60})
 * @param clientIdleTimeout a client connection with no I/O for this long is closed
 * @param requestReadTimeout a client must send a complete request (headers and body) within this time
 *     of opening the connection or of its previous response ending, or the connection is closed
 *     (HAProxy {@code timeout http-request}; protects against slowloris clients that trickle bytes
 *     just often enough to dodge the idle timeout)
 * @param connections how many client connections the gateway holds at once, in all and per client
 *     address; one more gets 503 with Retry-After and is closed
 * @param tls the certificate and key the proxy serves HTTPS with; null for plain HTTP
 */
public record GatewayConfig(
    String name, String host, int port, String adminHost, int adminPort, List<BackendConfig> backends,
    HealthCheckConfig checks, long maxBodyBytes, Duration upstreamConnectTimeout, Duration upstreamTimeout,
    Duration clientIdleTimeout, Duration requestReadTimeout, ConnectionLimits connections, Tls tls) {

  /**
   * HTTPS for the proxy's port: PEM files read at start (a restart reads renewed ones).
   *
   * @param certificate the certificate chain, leaf first ({@code -----BEGIN CERTIFICATE-----})
   * @param key its private key, unencrypted PKCS#8 ({@code -----BEGIN PRIVATE KEY-----}; convert others with
   *     {@code openssl pkcs8 -topk8 -nocrypt})
   */
  public record Tls(java.nio.file.Path certificate, java.nio.file.Path key) {
    public Tls {
      if (certificate == null || key == null) throw new BulwarkException("TLS needs both a certificate file and a key file");
    }
  }

  /**
   * @param total client connections at once, all clients together (HAProxy's maxconn)
   * @param perClient client connections at once from one address: no client can take them all
   * @param perClientBytesPerSecond request bytes per second read from one address, all its connections
   *     together (a second's worth may come at once); 0: no limit. Reading pauses, nothing is refused
   */
  public record ConnectionLimits(int total, int perClient, long perClientBytesPerSecond) {
    /** The default byte rate of one client address: 16 MiB/s, one body of the API's largest size a second (the first at once). */
    public static final long DEFAULT_CLIENT_BYTES_PER_SECOND = 16L * 1024 * 1024;
    /** 8,192 in all, 1,024 from one address: well under a default 65,536-descriptor limit; 16 MiB/s from one address. */
    public static final ConnectionLimits DEFAULTS = new ConnectionLimits(8192, 1024, DEFAULT_CLIENT_BYTES_PER_SECOND);

    public ConnectionLimits {
      if (total < 1) throw new BulwarkException("the connection limit must be at least 1, got " + total);
      if (perClient < 1 || perClient > total) {
        throw new BulwarkException("the per-client connection limit must be 1 to the total (" + total + "), got " + perClient);
      }
      if (perClientBytesPerSecond < 0 || (perClientBytesPerSecond > 0 && perClientBytesPerSecond < 64 * 1024)) {
        throw new BulwarkException("the per-client byte rate must be 0 (no limit) or at least 65536 bytes per second, got " + perClientBytesPerSecond);
      }
    }

    /** Connection limits with the default byte rate. */
    public ConnectionLimits(int total, int perClient) {
      this(total, perClient, DEFAULT_CLIENT_BYTES_PER_SECOND);
    }
  }

  public static final String DEFAULT_HOST = "127.0.0.1";
  public static final String DEFAULT_ADMIN_HOST = "127.0.0.1";
  /** The API's own limit (16 MiB): a body one byte larger gets 413 at the gateway. */
  public static final long DEFAULT_MAX_BODY_BYTES = 16L * 1024 * 1024;
  /** Bodies are held in memory: keep the limit far from the heap size. */
  public static final long MAX_MAX_BODY_BYTES = 1024L * 1024 * 1024;
  public static final Duration DEFAULT_UPSTREAM_CONNECT_TIMEOUT = Duration.ofSeconds(1);
  public static final Duration DEFAULT_UPSTREAM_TIMEOUT = Duration.ofSeconds(70);
  public static final Duration DEFAULT_CLIENT_IDLE_TIMEOUT = Duration.ofSeconds(30);
  public static final Duration DEFAULT_REQUEST_READ_TIMEOUT = Duration.ofSeconds(10);

  public GatewayConfig {
    if (name == null || name.isBlank()) throw new BulwarkException("gateway name must not be blank");
    requirePort("port", port);
    requirePort("admin port", adminPort);
    if (port != 0 && port == adminPort) {
      throw new BulwarkException("port and admin port must differ, both are " + port);
    }
    if (host == null || host.isBlank()) throw new BulwarkException("host must not be blank (use 0.0.0.0 for all interfaces)");
    requireLoopback(adminHost);
    if (backends == null || backends.isEmpty()) {
      throw new BulwarkException("at least one backend is needed, e.g. api-main=http://127.0.0.1:8080");
    }
    backends = List.copyOf(backends);
    if (backends.stream().allMatch(BackendConfig::backup)) {
      throw new BulwarkException("at least one backend must be a primary (not backup); all of "
          + backends.stream().map(BackendConfig::name).toList() + " are backups");
    }
    Map<String, String> names = new HashMap<>();
    Map<String, String> urls = new HashMap<>();
    for (BackendConfig b : backends) {
      if (names.put(b.name(), b.name()) != null) throw new BulwarkException("backend names must be unique: '" + b.name() + "' appears twice");
      String other = urls.put(b.origin(), b.name());
      if (other != null) throw new BulwarkException("backends " + other + " and " + b.name() + " have the same url " + b.origin());
    }
    if (checks == null) throw new BulwarkException("health check settings are required (HealthCheckConfig.defaults())");
    if (maxBodyBytes < 0 || maxBodyBytes > MAX_MAX_BODY_BYTES) {
      throw new BulwarkException("max body size must be 0-" + MAX_MAX_BODY_BYTES + " bytes (bodies are buffered in memory), got " + maxBodyBytes);
    }
    requireAtLeast("upstream connect timeout", upstreamConnectTimeout, 10);
    requireAtLeast("upstream timeout", upstreamTimeout, 10);
    if (upstreamConnectTimeout.compareTo(upstreamTimeout) > 0) {
      throw new BulwarkException("upstream connect timeout (" + upstreamConnectTimeout.toMillis()
          + " ms) cannot exceed the upstream timeout (" + upstreamTimeout.toMillis() + " ms)");
    }
    requireAtLeast("client idle timeout", clientIdleTimeout, 100);
    requireAtLeast("request read timeout", requestReadTimeout, 100);
    if (connections == null) throw new BulwarkException("connection limits are required (ConnectionLimits.DEFAULTS)");
  }

  /** The thirteen settings before TLS: plain HTTP. */
  public GatewayConfig(
      String name, String host, int port, String adminHost, int adminPort, List<BackendConfig> backends,
      HealthCheckConfig checks, long maxBodyBytes, Duration upstreamConnectTimeout, Duration upstreamTimeout,
      Duration clientIdleTimeout, Duration requestReadTimeout, ConnectionLimits connections) {
    this(name, host, port, adminHost, adminPort, backends, checks, maxBodyBytes, upstreamConnectTimeout,
        upstreamTimeout, clientIdleTimeout, requestReadTimeout, connections, null);
  }

  /** The twelve settings before connection limits; those get their defaults. */
  public GatewayConfig(
      String name, String host, int port, String adminHost, int adminPort, List<BackendConfig> backends,
      HealthCheckConfig checks, long maxBodyBytes, Duration upstreamConnectTimeout, Duration upstreamTimeout,
      Duration clientIdleTimeout, Duration requestReadTimeout) {
    this(name, host, port, adminHost, adminPort, backends, checks, maxBodyBytes, upstreamConnectTimeout,
        upstreamTimeout, clientIdleTimeout, requestReadTimeout, ConnectionLimits.DEFAULTS);
  }

  /** The eleven settings of the first design; the request read timeout gets its default (10 s). */
  public GatewayConfig(
      String name, String host, int port, String adminHost, int adminPort, List<BackendConfig> backends,
      HealthCheckConfig checks, long maxBodyBytes, Duration upstreamConnectTimeout, Duration upstreamTimeout,
      Duration clientIdleTimeout) {
    this(name, host, port, adminHost, adminPort, backends, checks, maxBodyBytes, upstreamConnectTimeout,
        upstreamTimeout, clientIdleTimeout, DEFAULT_REQUEST_READ_TIMEOUT);
  }

  /** Loopback proxy and admin ports with every other setting at its default. */
  public static GatewayConfig defaults(String name, int port, int adminPort, List<BackendConfig> backends) {
    return new GatewayConfig(name, DEFAULT_HOST, port, DEFAULT_ADMIN_HOST, adminPort, backends, HealthCheckConfig.defaults(),
        DEFAULT_MAX_BODY_BYTES, DEFAULT_UPSTREAM_CONNECT_TIMEOUT, DEFAULT_UPSTREAM_TIMEOUT, DEFAULT_CLIENT_IDLE_TIMEOUT,
        DEFAULT_REQUEST_READ_TIMEOUT);
  }

  /** {@link #defaults} with one primary and one backup server. */
  public static GatewayConfig mainAndBackup(String name, int port, int adminPort, String mainUrl, String backupUrl) {
    return defaults(name, port, adminPort,
        List.of(BackendConfig.primary("api-main", mainUrl), BackendConfig.backup("api-backup", backupUrl)));
  }

  public GatewayConfig withHost(String h) {
    return new GatewayConfig(name, h, port, adminHost, adminPort, backends, checks, maxBodyBytes, upstreamConnectTimeout,
        upstreamTimeout, clientIdleTimeout, requestReadTimeout, connections, tls);
  }

  public GatewayConfig withChecks(HealthCheckConfig c) {
    return new GatewayConfig(name, host, port, adminHost, adminPort, backends, c, maxBodyBytes, upstreamConnectTimeout,
        upstreamTimeout, clientIdleTimeout, requestReadTimeout, connections, tls);
  }

  public GatewayConfig withMaxBodyBytes(long max) {
    return new GatewayConfig(name, host, port, adminHost, adminPort, backends, checks, max, upstreamConnectTimeout,
        upstreamTimeout, clientIdleTimeout, requestReadTimeout, connections, tls);
  }

  public GatewayConfig withUpstreamTimeouts(Duration connect, Duration total) {
    return new GatewayConfig(name, host, port, adminHost, adminPort, backends, checks, maxBodyBytes, connect, total,
        clientIdleTimeout, requestReadTimeout, connections, tls);
  }

  public GatewayConfig withClientTimeouts(Duration idle, Duration requestRead) {
    return new GatewayConfig(name, host, port, adminHost, adminPort, backends, checks, maxBodyBytes, upstreamConnectTimeout,
        upstreamTimeout, idle, requestRead, connections, tls);
  }

  public GatewayConfig withConnectionLimits(ConnectionLimits limits) {
    return new GatewayConfig(name, host, port, adminHost, adminPort, backends, checks, maxBodyBytes, upstreamConnectTimeout,
        upstreamTimeout, clientIdleTimeout, requestReadTimeout, limits, tls);
  }

  public GatewayConfig withTls(Tls t) {
    return new GatewayConfig(name, host, port, adminHost, adminPort, backends, checks, maxBodyBytes, upstreamConnectTimeout,
        upstreamTimeout, clientIdleTimeout, requestReadTimeout, connections, t);
  }

  private static void requirePort(String what, int p) {
    if (p < 0 || p > 65535) throw new BulwarkException(what + " must be 0-65535, got " + p);
  }

  private static void requireAtLeast(String what, Duration d, long minMillis) {
    if (d == null || d.toMillis() < minMillis) {
      throw new BulwarkException(what + " cannot be less than " + minMillis + " ms, got " + (d == null ? "none" : d.toMillis() + " ms"));
    }
  }

  private static void requireLoopback(String adminHost) {
    boolean loopback;
    try {
      loopback = adminHost != null && !adminHost.isBlank() && InetAddress.getByName(adminHost).isLoopbackAddress();
    } catch (UnknownHostException e) {
      loopback = false;
    }
    if (!loopback) {
      throw new BulwarkException("admin host must be a loopback address such as 127.0.0.1 (the admin API has no "
          + "authentication), got '" + adminHost + "'");
    }
  }
}
