package io.bulwark.gateway;

import io.bulwark.core.BulwarkException;
import io.bulwark.core.metrics.Metrics;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.transport.HttpClientTransportOverHTTP;
import org.eclipse.jetty.http.HttpCookieStore;
import org.eclipse.jetty.io.ClientConnector;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The load balancer in front of the API servers: an HTTP reverse proxy with active and passive
 * health checks, HAProxy-style backup servers, safe retries, and drain/maint admin states, plus a
 * small admin API on a separate loopback port.
 *
 * <p>The proxy itself runs on Netty ({@link EventLoops}): each event loop serves the client
 * connections it accepted and keeps its own pool of connections to each server, so a request is
 * read, forwarded, and its answer streamed back on one thread, buffers passed through without
 * copies. The admin API and the health checks, off the request path, use Jetty like the API server.
 *
 * <p>A zero-downtime restart of a server: {@code setState(name, DRAIN)}, {@code awaitIdle(name, ...)},
 * restart it, {@code awaitHealth(name, UP, ...)}, {@code setState(name, READY)}.
 *
 * <p>At {@link #start()} every server is checked once, synchronously and all at the same time (with
 * a timeout of at least 2 s, as this is the HTTP client's first request): one that passes is UP at
 * once, so the gateway is useful as soon as it listens; one that fails starts DOWN and needs
 * {@code rise} passed checks. (HAProxy instead starts servers UP with a check pending, which can
 * send the first requests to a dead server.)
 */
public final class Gateway implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Gateway.class);

  /** Largest request line plus headers; larger requests get 431. */
  public static final int REQUEST_HEADER_SIZE = Proxy.REQUEST_HEADER_SIZE;
  /**
   * How long a pooled connection to a server may sit idle. Shorter than the API server's own idle
   * timeout (30 s) so the gateway never sends a request on a connection the server is closing.
   */
  public static final Duration UPSTREAM_POOL_IDLE_TIMEOUT = Duration.ofSeconds(15);
  static final int MAX_CONNECTIONS_PER_SERVER = 2048;
  static final int MAX_QUEUED_PER_SERVER = 8192;
  static final Duration STOP_TIMEOUT = Duration.ofSeconds(1);

  private final GatewayConfig config;
  private final Metrics metrics;
  private final Backends backends;
  private final GatewayMetrics gatewayMetrics;
  private final ScheduledExecutorService timer;
  private final EventLoops loops;
  private final Proxy proxy;
  private final HttpClient checkClient;
  private final HealthChecker checker;
  private final RequestReadDeadlines deadlines;
  private final AccessLog accessLog;
  /** HTTPS on the proxy's port; null for plain HTTP. */
  private final SslContext tls;
  private volatile Channel listener;
  private final Server adminServer;
  private final ServerConnector adminConnector;

  public Gateway(GatewayConfig config, Metrics metrics) {
    this.config = config;
    this.metrics = metrics;
    this.tls = config.tls() == null ? null : tlsContext(config.tls());
    this.gatewayMetrics = new GatewayMetrics(metrics);
    List<Backend> all = new ArrayList<>();
    for (BackendConfig b : config.backends()) all.add(new Backend(config.name(), b, config.checks(), gatewayMetrics));
    this.backends = new Backends(all);
    this.timer = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name(config.name() + "-timer").factory());

    this.checkClient = checkClient(config.name() + "-checks", config.checks().timeout());
    checkClient.setIdleTimeout(Math.max(30_000, config.checks().interval().toMillis() * 3));
    this.checker = new HealthChecker(config.name(), config.checks(), checkClient, timer);
    this.deadlines = new RequestReadDeadlines(config.name(), config.requestReadTimeout().toMillis(), config.clientIdleTimeout().toMillis());

    this.loops = new EventLoops(config.name(), EventLoops.DEFAULT_THREADS);
    this.proxy = new Proxy(config, backends, gatewayMetrics, deadlines, loops, UPSTREAM_POOL_IDLE_TIMEOUT.toMillis(),
        MAX_CONNECTIONS_PER_SERVER, MAX_QUEUED_PER_SERVER);
    this.accessLog = proxy.accessLog;

    this.adminServer = new Server(threads(config.name() + "-admin", 8, 1));
    this.adminConnector = connector(adminServer, config.adminHost(), config.adminPort(), 30_000);
    adminServer.setHandler(new AdminHandler(this, metrics));
    adminServer.setErrorHandler(new ProblemErrorHandler());
    adminServer.setStopTimeout(STOP_TIMEOUT.toMillis());
  }

  /** The server side of TLS from PEM files, with the JDK's provider (TLS 1.3 and 1.2); a clear error naming the file. */
  static SslContext tlsContext(GatewayConfig.Tls files) {
    for (java.nio.file.Path f : List.of(files.certificate(), files.key())) {
      if (!java.nio.file.Files.isReadable(f)) {
        throw new BulwarkException("cannot read the TLS " + (f == files.key() ? "key " : "certificate ") + f + " (no such file, or not readable)");
      }
    }
    try {
      return SslContextBuilder.forServer(files.certificate().toFile(), files.key().toFile())
          .sslProvider(SslProvider.JDK).protocols("TLSv1.3", "TLSv1.2").build();
    } catch (javax.net.ssl.SSLException | IllegalArgumentException e) {
      Throwable root = e;
      while (root.getCause() != null) root = root.getCause();
      throw new BulwarkException("cannot use the TLS certificate " + files.certificate() + " with the key " + files.key() + ": "
          + root.getMessage() + " (the certificate must be PEM, the key unencrypted PKCS#8 PEM: -----BEGIN PRIVATE KEY-----;"
          + " convert with `openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8`)", e);
    }
  }

  private static QueuedThreadPool threads(String name, int max, int min) {
    QueuedThreadPool pool = new QueuedThreadPool(max, min);
    pool.setName(name);
    pool.setDaemon(true);
    return pool;
  }

  private static ServerConnector connector(Server server, String host, int port, long idleMillis) {
    HttpConfiguration http = new HttpConfiguration();
    http.setSendServerVersion(false);
    http.setSendXPoweredBy(false);
    http.setRequestHeaderSize(REQUEST_HEADER_SIZE);
    ServerConnector c = new ServerConnector(server, 1, 1, new HttpConnectionFactory(http));
    c.setHost(host);
    c.setPort(port);
    c.setIdleTimeout(idleMillis);
    server.addConnector(c);
    return c;
  }

  private static HttpClient checkClient(String name, Duration connectTimeout) {
    ClientConnector connector = new ClientConnector();
    connector.setSelectors(1);
    connector.setExecutor(threads(name, 8, 2));
    HttpClient client = new HttpClient(new HttpClientTransportOverHTTP(connector));
    client.setName(name);
    client.setConnectTimeout(connectTimeout.toMillis());
    client.setFollowRedirects(false);
    client.setHttpCookieStore(new HttpCookieStore.Empty());
    return client;
  }

  /** Checks every server once, then starts the periodic checks and both listeners. */
  public void start() {
    try {
      accessLog.start();
      checkClient.start();
      checker.checkAllNow(backends.all());
      checker.start(backends.all());
      long sweep = RequestReadDeadlines.sweepPeriodMillis(config.requestReadTimeout().toMillis(), config.clientIdleTimeout().toMillis());
      timer.scheduleWithFixedDelay(deadlines::sweep, sweep, sweep, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      close();
      throw new BulwarkException("[" + config.name() + "] interrupted while starting", e);
    } catch (Exception e) {
      close();
      throw new BulwarkException("[" + config.name() + "] could not start the gateway's health checks: " + e.getMessage(), e);
    }
    listen();
    try {
      adminServer.start();
    } catch (Exception e) {
      close();
      String why = e instanceof IOException ? e.getMessage() : e.toString();
      throw new BulwarkException("[" + config.name() + "] cannot listen on " + config.adminHost() + ":" + config.adminPort() + ": " + why
          + "; make sure no other process is using the port, or pick another with --admin-port", e);
    }
    log.info("[{}] gateway listening on {}://{}:{} (admin http://{}:{}; {} event loops, {}); servers: {}", config.name(), tls == null ? "http" : "https",
        config.host(), port(), config.adminHost(), adminPort(), loops.threads, loops.transport, describe());
  }

  private void listen() {
    ServerBootstrap b = new ServerBootstrap()
        .group(loops.group)
        .channel(loops.serverChannel)
        .option(ChannelOption.SO_BACKLOG, 1024)
        .option(ChannelOption.SO_REUSEADDR, true)
        .childOption(ChannelOption.TCP_NODELAY, true)
        .childHandler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            if (tls != null) ch.pipeline().addLast(tls.newHandler(ch.alloc()));
            ch.pipeline().addLast(new HttpServerCodec(Proxy.clientDecoder(), Proxy.MAX_PIPELINE_DEPTH), new ClientConnection(proxy));
          }
        });
    var bound = b.bind(config.host(), config.port()).awaitUninterruptibly();
    if (!bound.isSuccess()) {
      close();
      Throwable e = bound.cause();
      String why = e instanceof IOException ? e.getMessage() : String.valueOf(e);
      throw new BulwarkException("[" + config.name() + "] cannot listen on " + config.host() + ":" + config.port() + ": " + why
          + "; make sure no other process is using the port, or pick another with --port", e);
    }
    listener = bound.channel();
  }

  private String describe() {
    StringBuilder sb = new StringBuilder();
    for (ServerSnapshot s : servers()) {
      if (!sb.isEmpty()) sb.append(", ");
      sb.append(s.name()).append(" (").append(s.backup() ? "backup" : "primary").append(", ").append(s.health().label()).append(')');
    }
    return sb.toString();
  }

  public GatewayConfig config() {
    return config;
  }

  /** The proxy's port (the bound one, when configured as 0). */
  public int port() {
    Channel l = listener;
    return l == null ? -1 : ((InetSocketAddress) l.localAddress()).getPort();
  }

  /** The admin API's port. */
  public int adminPort() {
    return adminConnector.getLocalPort();
  }

  /** Every server, in configuration order. */
  public List<ServerSnapshot> servers() {
    return backends.all().stream().map(Backend::snapshot).toList();
  }

  /**
   * Adds a server while running (a cluster's agent adds the API servers registered in etcd): checked
   * at once and in service as soon as a check passes. Adding one that exists with the same URL
   * changes nothing; with another URL it is refused.
   */
  public ServerSnapshot addServer(BackendConfig server) {
    Backend existing = backends.find(server.name());
    if (existing != null) {
      if (!existing.snapshot().url().equals(server.url()) || existing.backup() != server.backup()) {
        throw new IllegalStateException("server " + server.name() + " exists with url " + existing.snapshot().url()
            + (existing.backup() ? " (backup)" : "") + "; remove it first");
      }
      return existing.snapshot();
    }
    Backend b = new Backend(config.name(), server, config.checks(), gatewayMetrics);
    if (backends.add(b)) {
      log.info("[{}] server {} added ({}{})", config.name(), server.name(), server.url(), server.backup() ? ", backup" : "");
      checker.add(b);
    }
    return b.snapshot();
  }

  /** Removes a server while running: no new request goes to it, those in flight finish. */
  public void removeServer(String name) {
    backends.remove(name);
    log.info("[{}] server {} removed", config.name(), name);
  }

  /** One server; {@link UnknownServerException} if there is none by that name. */
  public ServerSnapshot server(String name) {
    return backends.named(name).snapshot();
  }

  /**
   * Sets a server's admin state: {@link ServerState#DRAIN} and {@link ServerState#MAINT} stop new
   * requests at once (requests in flight finish); {@link ServerState#READY} lets them in again
   * while the server is up.
   */
  public ServerSnapshot setState(String name, ServerState state) {
    Backend b = backends.named(name);
    b.setState(state);
    return b.snapshot();
  }

  /**
   * Waits until no request is in flight to the server: after {@code DRAIN}, the moment it can be
   * restarted. Returns false if the timeout passed first (or the thread was interrupted).
   */
  public boolean awaitIdle(String name, Duration timeout) {
    Backend b = backends.named(name);
    try {
      return b.awaitIdle(timeout);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** Waits until the server's health is {@code health}; false if the timeout passed first (or the thread was interrupted). */
  public boolean awaitHealth(String name, Health health, Duration timeout) {
    Backend b = backends.named(name);
    try {
      return b.awaitHealth(health, timeout);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  boolean anyServerUsable() {
    return backends.anyUsable();
  }

  Metrics metrics() {
    return metrics;
  }

  /**
   * Stops listening, lets requests in flight finish for up to {@link #STOP_TIMEOUT}, then closes
   * every connection and stops the checks.
   */
  @Override
  public void close() {
    checker.close();
    timer.shutdownNow();
    Channel l = listener;
    if (l != null) l.close().awaitUninterruptibly();
    long deadline = System.nanoTime() + STOP_TIMEOUT.toNanos();
    while (inFlight() > 0 && System.nanoTime() < deadline) {
      try {
        Thread.sleep(10); // polling the in-flight count against the stop deadline
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    loops.shutdown(STOP_TIMEOUT);
    stop(adminServer, "admin API");
    accessLog.close();
    stop(checkClient, "health check client");
    log.info("[{}] gateway stopped", config.name());
  }

  private int inFlight() {
    int n = 0;
    for (Backend b : backends.all()) n += b.inFlight();
    return n;
  }

  private void stop(org.eclipse.jetty.util.component.LifeCycle c, String what) {
    try {
      c.stop();
    } catch (Exception e) {
      log.warn("[{}] error stopping the {}: {}", config.name(), what, e.toString());
    }
  }
}
