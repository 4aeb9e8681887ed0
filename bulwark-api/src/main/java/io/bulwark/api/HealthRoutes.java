package io.bulwark.api;

import com.fasterxml.jackson.core.JsonGenerator;
import io.bulwark.core.metrics.Metrics;
import io.bulwark.postgres.ReplicationStats;
import io.bulwark.postgres.TaskQueue;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/** Health and metrics: liveness, readiness (database reachable, not draining), and the Prometheus scrape with its gauges. */
final class HealthRoutes {
  private final Metrics metrics;
  private final Authenticator auth;
  private final ApiServer.ReadinessProbe readiness;
  private final EverySecond<TaskQueue.Stats> queueStats;
  private final EverySecond<ReplicationStats> replication;

  HealthRoutes(Metrics metrics, Authenticator auth, ApiServer.ReadinessProbe readiness, TaskQueue queue,
      java.util.function.Supplier<ReplicationStats> replicationStats) {
    this.metrics = metrics;
    this.auth = auth;
    this.readiness = readiness;
    this.queueStats = new EverySecond<>(queue::stats, new TaskQueue.Stats(0, 0, 0, 0));
    this.replication = new EverySecond<>(replicationStats, ReplicationStats.UNKNOWN);
    metrics.gauge("queue_ready_tasks", "Tasks ready to run now", () -> queueStats.get().ready());
    metrics.gauge("queue_scheduled_tasks", "Tasks waiting for their run_at or retry time", () -> queueStats.get().scheduled());
    metrics.gauge("queue_running_tasks", "Tasks held by workers", () -> queueStats.get().running());
    metrics.gauge("queue_oldest_ready_age_seconds", "Age of the oldest ready task", () -> queueStats.get().oldestReadyAgeSeconds());
    metrics.gauge("db_standbys_streaming", "Standbys streaming WAL from the primary", () -> replication.get().streamingStandbys());
    metrics.gauge("db_replication_synchronous", "1 while a standby is synchronous (every acknowledged commit is also on it), else 0",
        () -> Math.min(1, replication.get().synchronousStandbys()));
    metrics.gauge("db_standby_lag_bytes", "WAL the slowest standby has not flushed yet", () -> replication.get().maxLagBytes());
    metrics.gauge("db_wal_last_archived_age_seconds", "Seconds since PostgreSQL last archived a WAL segment (-1: never)",
        () -> replication.get().secondsSinceLastArchived());
    metrics.gauge("db_wal_archive_failures", "Failed archive_command runs since the primary started", () -> replication.get().archiveFailures());
  }

  void live(Exchange ex) {
    ex.json(200, g -> status(g, "up"));
  }

  void scrape(Exchange ex) {
    requireMetricsAccess(ex);
    ex.send(200, "text/plain; version=0.0.4; charset=utf-8", metrics.scrape().getBytes(StandardCharsets.UTF_8));
  }

  /**
   * /metrics counts every tenant's activity: a scraper on this host reaches it directly (loopback, not
   * through a load balancer, which adds X-Forwarded-For); anyone else needs an admin key.
   */
  private void requireMetricsAccess(Exchange ex) {
    String remote = org.eclipse.jetty.server.Request.getRemoteAddr(ex.request);
    // this host: loopback, or the address the server listens on (an agent's API server binds its host's address)
    boolean local = remote != null && (remote.startsWith("127.") || remote.equals("::1") || remote.equals("0:0:0:0:0:0:0:1")
        || remote.equals("[::1]") || remote.equals(org.eclipse.jetty.server.Request.getLocalAddr(ex.request)));
    if (local && ex.header("X-Forwarded-For") == null) return;
    Exchange.Principal caller = auth.authenticate(ex.header("Authorization"));
    if (!caller.admin()) {
      throw new ApiProblem(403, "forbidden", "Forbidden", "/metrics shows every tenant's activity: it needs an admin key, or a"
          + " scrape from this host straight to the API server's port");
    }
  }

  void ready(Exchange ex) {
    if (readiness.draining) {
      ex.problem(ApiProblem.unavailable("server is draining; it takes no new requests"));
    } else if (!readiness.databaseReachable()) {
      ex.problem(ApiProblem.unavailable("database unreachable"));
    } else {
      ex.json(200, g -> status(g, "ready"));
    }
  }

  private static void status(JsonGenerator g, String s) throws IOException {
    g.writeStartObject();
    g.writeStringField("status", s);
    g.writeEndObject();
  }

  /** A database reading for gauges, taken at most once a second however often /metrics is scraped. */
  private static final class EverySecond<T> {
    private final java.util.function.Supplier<T> read;
    private volatile T last;
    private volatile long readAt = System.nanoTime() - 2_000_000_000L; // stale: the first scrape reads

    EverySecond(java.util.function.Supplier<T> read, T initial) {
      this.read = read;
      this.last = initial;
    }

    T get() {
      if (System.nanoTime() - readAt > 1_000_000_000L) {
        try {
          last = read.get();
        } catch (RuntimeException e) {
          // keep the last value; the database error shows in readiness
        } finally {
          // from when the read ended: a read that waited out the connect timeout (database down) must not
          // make the scrape's next gauge wait again, or one scrape takes four connect timeouts
          readAt = System.nanoTime();
        }
      }
      return last;
    }
  }
}
