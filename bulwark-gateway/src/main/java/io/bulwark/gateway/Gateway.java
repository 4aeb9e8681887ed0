package io.bulwark.gateway;

import io.bulwark.core.BulwarkException;
import io.bulwark.core.metrics.Metrics;
import java.io.IOException;
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
import org.eclipse.jetty.util.thread.Invocable;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The load balancer in front of the API servers: an HTTP reverse proxy (Jetty server + Jetty
 * HttpClient) with active and passive health checks, HAProxy-style backup servers, safe retries,
 * and drain/maint admin states, plus a small admin API on a separate loopback port.
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

  /** Largest request line plus headers; larger requests get 431 from Jetty. */
  public static final int REQUEST_HEADER_SIZE = 8 * 1024;
  /**
   * How long a pooled connection to a server may sit idle. Shorter than the API server's own idle
   * timeout (30 s) so the gateway never sends a request on a connection the server is closing.
   */
  public static final Duration UPSTREAM_POOL_IDLE_TIMEOUT = Duration.ofSeconds(15);
  static final int MAX_CONNECTIONS_PER_SERVER = 2048;
  static final int MAX_QUEUED_PER_SERVER = 8192;
  static final int MAX_THREADS = 200;
  static final int MIN_THREADS = 8;
  static final Duration STOP_TIMEOUT = Duration.ofSeconds(1);

  private final GatewayConfig config;
  private final Metrics metrics;
  /** Shared by the proxy's server side and its upstream client: fewer threads, fewer hand-offs. */
  private final ProxyThreadPool threads;
  private final Backends backends;
  private final ScheduledExecutorService timer;
  private final HttpClient upstream;
  private final HttpClient checkClient;
  private final HealthChecker checker;
  private final RequestReadDeadlines deadlines;
  private final AccessLog accessLog;
  private final Server server;
  private final ServerConnector connector;
  private final Server adminServer;
  private final ServerConnector adminConnector;

  public Gateway(GatewayConfig config, Metrics metrics) {
    this.config = config;
    this.metrics = metrics;
    GatewayMetrics gatewayMetrics = new GatewayMetrics(metrics);
    List<Backend> all = new ArrayList<>();
    for (BackendConfig b : config.backends()) all.add(new Backend(config.name(), b, config.checks(), gatewayMetrics));
    this.backends = new Backends(all);
    this.timer = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name(config.name() + "-timer").factory());

    this.threads = new ProxyThreadPool(config.name() + "-http", MAX_THREADS, MIN_THREADS);
    // every response listener of the proxy is non-blocking (ProxyExchange): the client's selector thread
    // runs them, instead of handing each upstream response to another thread
    this.upstream = httpClient(config.name() + "-upstream", threads, config.upstreamConnectTimeout(), Invocable.InvocationType.NON_BLOCKING);
    upstream.setIdleTimeout(UPSTREAM_POOL_IDLE_TIMEOUT.toMillis());
    upstream.setMaxConnectionsPerDestination(MAX_CONNECTIONS_PER_SERVER);
    upstream.setMaxRequestsQueuedPerDestination(MAX_QUEUED_PER_SERVER);
    this.checkClient = httpClient(config.name() + "-checks", threads(config.name() + "-checks", 8, 2), config.checks().timeout(),
        Invocable.InvocationType.BLOCKING);
    checkClient.setIdleTimeout(Math.max(30_000, config.checks().interval().toMillis() * 3));
    this.checker = new HealthChecker(config.name(), config.checks(), checkClient, timer);
    this.deadlines = new RequestReadDeadlines(config.name(), config.requestReadTimeout().toMillis());

    var proxy = new ProxyHandler(config, backends, upstream, gatewayMetrics, deadlines);
    this.accessLog = proxy.accessLog;
    this.server = new Server(threads);
    server.unmanage(threads); // started first and stopped last by the gateway itself
    this.connector = connector(server, config.host(), config.port(), config.clientIdleTimeout().toMillis());
    connector.addEventListener(deadlines);
    server.setHandler(proxy);
    server.setErrorHandler(new ProblemErrorHandler());
    server.setStopTimeout(STOP_TIMEOUT.toMillis());

    this.adminServer = new Server(threads(config.name() + "-admin", 8, 1));
    this.adminConnector = connector(adminServer, config.adminHost(), config.adminPort(), 30_000);
    adminServer.setHandler(new AdminHandler(this, metrics));
    adminServer.setErrorHandler(new ProblemErrorHandler());
    adminServer.setStopTimeout(STOP_TIMEOUT.toMillis());
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
    http.setSendDateHeader(false); // the server's Date header passes through
    http.setRequestHeaderSize(REQUEST_HEADER_SIZE);
    ServerConnector c = new ServerConnector(server, 1, 1, new HttpConnectionFactory(http));
    c.setHost(host);
    c.setPort(port);
    c.setIdleTimeout(idleMillis);
    c.setAcceptQueueSize(1024);
    server.addConnector(c);
    return c;
  }

  private static HttpClient httpClient(String name, QueuedThreadPool pool, Duration connectTimeout, Invocable.InvocationType listeners) {
    ClientConnector connector = new ClientConnector();
    connector.setSelectors(1);
    connector.setExecutor(pool);
    HttpClientTransportOverHTTP transport = new HttpClientTransportOverHTTP(connector);
    transport.setInvocationType(listeners);
    HttpClient client = new HttpClient(transport);
    client.setName(name);
    client.setConnectTimeout(connectTimeout.toMillis());
    client.setFollowRedirects(false);
    client.setHttpCookieStore(new HttpCookieStore.Empty());
    client.setUserAgentField(null); // the client's User-Agent passes through
    client.setDefaultRequestContentType(null); // so does its Content-Type, or its absence
    return client;
  }

  /** Checks every server once, then starts the periodic checks and both listeners. */
  public void start() {
    try {
      threads.start();
      accessLog.start();
      upstream.start();
      upstream.getContainedBeans(ClientConnector.class).forEach(c -> c.unmanage(threads));
      upstream.getContentDecoderFactories().clear(); // pass compressed bodies through untouched
      upstream.getProtocolHandlers().clear(); // no redirects, auth or 100-continue handling: the client's business
      checkClient.start();
      checker.checkAllNow(backends.all());
      checker.start(backends.all());
      long sweep = RequestReadDeadlines.sweepPeriodMillis(config.requestReadTimeout().toMillis());
      timer.scheduleWithFixedDelay(deadlines::sweep, sweep, sweep, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      close();
      throw new BulwarkException("[" + config.name() + "] interrupted while starting", e);
    } catch (Exception e) {
      close();
      throw new BulwarkException("[" + config.name() + "] could not start the gateway's HTTP clients: " + e.getMessage(), e);
    }
    listen(server, config.host(), config.port(), "--port");
    threads.resumeOnSelectorOf(connector);
    listen(adminServer, config.adminHost(), config.adminPort(), "--admin-port");
    log.info("[{}] gateway listening on http://{}:{} (admin http://{}:{}); servers: {}", config.name(), config.host(), port(),
        config.adminHost(), adminPort(), describe());
  }

  private void listen(Server s, String host, int port, String option) {
    try {
      s.start();
    } catch (Exception e) {
      close();
      String why = e instanceof IOException ? e.getMessage() : e.toString();
      throw new BulwarkException("[" + config.name() + "] cannot listen on " + host + ":" + port + ": " + why
          + "; make sure no other process is using the port, or pick another with " + option, e);
    }
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
    return connector.getLocalPort();
  }

  /** The admin API's port. */
  public int adminPort() {
    return adminConnector.getLocalPort();
  }

  /** Every server, in configuration order. */
  public List<ServerSnapshot> servers() {
    return backends.all().stream().map(Backend::snapshot).toList();
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

  ProxyThreadPool threadPool() {
    return threads;
  }

  @Override
  public void close() {
    checker.close();
    timer.shutdownNow();
    stop(server, "proxy");
    stop(adminServer, "admin API");
    accessLog.close();
    stop(upstream, "upstream client");
    stop(checkClient, "health check client");
    stop(threads, "thread pool");
    log.info("[{}] gateway stopped", config.name());
  }

  private void stop(org.eclipse.jetty.util.component.LifeCycle c, String what) {
    try {
      c.stop();
    } catch (Exception e) {
      log.warn("[{}] error stopping the {}: {}", config.name(), what, e.toString());
    }
  }
}
