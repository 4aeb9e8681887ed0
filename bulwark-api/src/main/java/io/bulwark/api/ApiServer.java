package io.bulwark.api;

import io.bulwark.core.blob.BlobStore;
import io.bulwark.core.handler.HandlerRegistry;
import io.bulwark.core.metrics.Metrics;
import io.bulwark.postgres.ReplicationStats;
import io.bulwark.postgres.ApiKeyRepository;
import io.bulwark.postgres.Database;
import io.bulwark.postgres.DatabaseUnavailableException;
import io.bulwark.postgres.PgListener;
import io.bulwark.postgres.TaskQueue;
import io.bulwark.postgres.TaskRepository;
import io.bulwark.postgres.UsageRepository;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP API server: Jetty (core handlers, no servlet layer) with request handling on virtual
 * threads. Stateless: everything durable is in the database and the blob store, so any number of
 * these run behind a load balancer, and one can be killed at any moment without losing an
 * acknowledged task (a 202 is sent only after the task's transaction commits).
 */
public final class ApiServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ApiServer.class);

  private final ApiConfig config;
  private final Database db;
  private final Metrics metrics;
  private final Server server;
  private final ServerConnector connector;
  private final ApiRoutes routes;
  private final SubmitBatcher batcher;
  private final TaskWaiters waiters;
  private final UsageRecorder usage;
  private final ReadinessProbe readiness;
  private final ScheduledExecutorService timers;
  private PgListener doneListener;

  public ApiServer(ApiConfig config, Database db, BlobStore blobs, HandlerRegistry handlers, Metrics metrics) {
    this.config = config;
    this.db = db;
    this.metrics = metrics;
    TaskRepository tasks = new TaskRepository(db);
    this.batcher = new SubmitBatcher(config.name(), tasks, metrics);
    this.waiters = new TaskWaiters(config.name(), tasks);
    this.usage = new UsageRecorder(new UsageRepository(db));
    this.readiness = new ReadinessProbe(db);
    var auth = new Authenticator(new ApiKeyRepository(db), config.authCacheTtl());
    this.routes = new ApiRoutes(config, tasks, new ApiKeyRepository(db), new UsageRepository(db), new TaskQueue(db),
        auth, batcher, waiters, usage, readiness, new TaskRequests(handlers, blobs), blobs, metrics,
        () -> ReplicationStats.read(db), new io.bulwark.postgres.TenantSettingsRepository(db));
    this.timers = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name(config.name() + "-usage").factory());

    QueuedThreadPool pool = new QueuedThreadPool(200, 8);
    pool.setName(config.name() + "-http");
    pool.setVirtualThreadsExecutor(Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name(config.name() + "-req-", 0).factory()));
    server = new Server(pool);
    HttpConfiguration http = new HttpConfiguration();
    http.setSendServerVersion(false);
    http.setRequestHeaderSize(16 * 1024);
    connector = new ServerConnector(server, 1, 1, new HttpConnectionFactory(http));
    connector.setHost(config.host());
    connector.setPort(config.port());
    connector.setIdleTimeout(30_000);
    connector.setAcceptQueueSize(1024);
    server.addConnector(connector);
    server.setHandler(new Handler.Abstract() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) {
        routes.handle(new Exchange(request, response, callback));
        return true;
      }
    });
    server.setStopTimeout(5000);
  }

  public void start() throws Exception {
    doneListener = new PgListener(db.config(), TaskQueue.DONE_CHANNEL, waiters::signal);
    long flush = config.usageFlush().toMillis();
    timers.scheduleWithFixedDelay(usage::flush, flush, flush, TimeUnit.MILLISECONDS);
    try {
      server.start();
    } catch (java.io.IOException e) {
      throw new io.bulwark.core.BulwarkException("cannot listen on " + config.host() + ":" + config.port() + ": "
          + e.getMessage() + "; make sure no other process is using the port, or pick another with --port", e);
    }
    log.info("[{}] API listening on http://{}:{}", config.name(), config.host(), port());
  }

  public int port() {
    return connector.getLocalPort();
  }

  /** Readiness turns 503 so a load balancer stops sending new requests; requests in flight finish. */
  public void drain() {
    readiness.draining = true;
    log.info("[{}] draining: /health/ready now answers 503", config.name());
  }

  public Metrics metrics() {
    return metrics;
  }

  @Override
  public void close() {
    drain();
    try {
      server.stop();
    } catch (Exception e) {
      log.warn("[{}] error stopping HTTP server: {}", config.name(), e.getMessage());
    }
    batcher.close();
    if (doneListener != null) doneListener.close();
    waiters.close();
    timers.shutdown();
    usage.flush();
    log.info("[{}] API stopped", config.name());
  }

  /** Writes the usage counted so far now, rather than at the next flush (tests). */
  void flushUsage() {
    usage.flush();
  }

  /** Database reachability, checked at most every 500 ms so health probes never pile onto the pool. */
  static final class ReadinessProbe {
    private static final long MAX_AGE_NANOS = 500_000_000L;
    private final Database db;
    private final java.util.concurrent.locks.ReentrantLock checking = new java.util.concurrent.locks.ReentrantLock();
    volatile boolean draining;
    private volatile long checkedAt = System.nanoTime() - MAX_AGE_NANOS - 1;
    private volatile boolean reachable;

    ReadinessProbe(Database db) {
      this.db = db;
    }

    /** One probe at a time checks the database; concurrent probes answer with the last result. */
    boolean databaseReachable() {
      if (System.nanoTime() - checkedAt > MAX_AGE_NANOS && checking.tryLock()) {
        try {
          reachable = db.isReachable();
          checkedAt = System.nanoTime();
        } finally {
          checking.unlock();
        }
      }
      return reachable;
    }

    void markUnreachable() {
      reachable = false;
      checkedAt = System.nanoTime();
    }
  }


  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static boolean isUnavailable(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof DatabaseUnavailableException) return true;
    }
    return false;
  }

  /** For tests: the routes, with their tenant gate. */
  ApiRoutes routes() {
    return routes;
  }
}
