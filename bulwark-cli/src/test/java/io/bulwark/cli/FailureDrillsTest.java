package io.bulwark.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.bulwark.cluster.events.Event;
import io.bulwark.cluster.events.FileEventJournal;
import io.bulwark.node.Component;
import io.bulwark.node.DataDir;
import io.bulwark.node.Health;
import io.bulwark.node.LocalDeployment;
import io.bulwark.node.Ports;
import io.bulwark.postgres.Database;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The failure behaviour the core platform promises, injected for real into a local deployment of
 * separate processes (PostgreSQL, API server, worker), each assertion about acknowledged tasks.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class FailureDrillsTest {
  private static final Pattern ID = Pattern.compile("\"id\":\"([0-9a-f-]{36})\"");

  @TempDir static Path root;
  static LocalDeployment deployment;
  static Database db;
  static HttpClient http;
  static String base;

  @BeforeAll
  static void start() {
    deployment = new LocalDeployment(new DataDir(root), LocalDeployment.Options.defaults().withMonitoring(LocalDeployment.Monitoring.OFF).withPort(Ports.free()).withWorkers(1).withStandby(false));
    deployment.start();
    db = deployment.openDatabase("drill", 4);
    http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    base = "http://127.0.0.1:" + deployment.entryPort();
  }

  @AfterAll
  static void stop() {
    if (db != null) db.close();
    if (deployment != null) deployment.close();
  }

  /** Submits a task through the load balancer; returns the HTTP status and the id (null unless 202). */
  static Object[] submit(String body, String idempotencyKey, Duration timeout) throws Exception {
    return submitTo(base, body, idempotencyKey, timeout);
  }

  /** Submits a task to one server; throws on connection errors. */
  static Object[] submitTo(String server, String body, String idempotencyKey, Duration timeout) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server + "/v1/tasks")).timeout(timeout)
        .header("Authorization", "Bearer " + deployment.adminKey()).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body));
    if (idempotencyKey != null) b.header("Idempotency-Key", idempotencyKey);
    HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    Matcher m = ID.matcher(r.body());
    return new Object[] {r.statusCode(), r.statusCode() == 202 && m.find() ? UUID.fromString(m.group(1)) : null, r.body()};
  }

  static long count(String where, Object... params) throws Exception {
    try (Connection c = db.connection(); PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM tasks WHERE " + where)) {
      for (int i = 0; i < params.length; i++) ps.setObject(i + 1, params[i]);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }

  /** Counts these tasks; retried like any client while the database restarts. */
  static long countIds(List<UUID> ids, String extraWhere) throws Exception {
    return countIds(db, ids, extraWhere);
  }

  /** Counts these tasks in db; retried like any client while the database restarts or fails over. */
  static long countIds(Database db, List<UUID> ids, String extraWhere) throws Exception {
    long[] n = new long[1];
    await().pollDelay(Duration.ZERO).atMost(Duration.ofSeconds(30)).ignoreExceptionsInstanceOf(java.sql.SQLException.class)
        .until(() -> {
          try (Connection c = db.connection()) {
            PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM tasks WHERE id = ANY(?)" + extraWhere);
            ps.setArray(1, c.createArrayOf("uuid", ids.toArray()));
            try (ResultSet rs = ps.executeQuery()) {
              rs.next();
              n[0] = rs.getLong(1);
            }
          }
          return true;
        });
    return n[0];
  }

  @Test
  @Order(1)
  void sigkill_of_a_worker_running_long_tasks_loses_none_and_rescues_them_within_15_seconds() throws Exception {
    List<UUID> ids = new ArrayList<>();
    for (int i = 0; i < 8; i++) ids.add((UUID) submit("{\"type\":\"sleep\",\"input\":{\"ms\":3000}}", null, Duration.ofSeconds(10))[1]);
    await().atMost(Duration.ofSeconds(20)).until(() -> countIds(ids, " AND state = 'running'") == ids.size());
    Component worker = deployment.workers().get(0);
    long killedPid = worker.pid();
    Instant killedAt = Instant.now();
    worker.process.destroyForcibly(); // SIGKILL: no graceful hand-back
    await().atMost(Duration.ofSeconds(60)).until(() -> countIds(ids, " AND state = 'succeeded'") == ids.size());
    assertThat(worker.pid()).isNotEqualTo(killedPid); // the supervisor respawned it
    List<Event> journal = new FileEventJournal(deployment.dir().events()).all();
    assertThat(journal).filteredOn(e -> e.kind().equals("component.exit"))
        .anyMatch(e -> e.message().startsWith(worker.name + " (worker) was killed by signal 9 (SIGKILL"));
    assertThat(journal).filteredOn(e -> e.kind().equals("component.start"))
        .anyMatch(e -> e.message().startsWith(worker.name + " restarted (pid " + worker.pid()));
    assertThat(countIds(ids, " AND attempts = 2")).as("each task ran again after the kill").isEqualTo(ids.size());
    try (Connection c = db.connection(); Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT max(started_at) FROM tasks WHERE type = 'sleep'")) {
      rs.next();
      Duration rescue = Duration.between(killedAt, rs.getTimestamp(1).toInstant());
      assertThat(rescue).as("lease expiry (10 s) + rescue sweep").isLessThanOrEqualTo(Duration.ofSeconds(15));
    }
  }

  @Test
  @Order(2)
  void sigkill_of_the_api_server_during_submissions_loses_no_acknowledged_task() throws Exception {
    // straight to api-main, not through the gateway (which would fail over): this drill is about
    // what a server acknowledged before it died
    String direct = "http://127.0.0.1:" + deployment.api().port;
    List<UUID> acknowledged = new CopyOnWriteArrayList<>();
    AtomicLong failures = new AtomicLong();
    AtomicBoolean running = new AtomicBoolean(true);
    List<Thread> clients = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      clients.add(Thread.ofPlatform().start(() -> {
        while (running.get()) {
          try {
            Object[] r = submitTo(direct, "{\"type\":\"noop\"}", UUID.randomUUID().toString(), Duration.ofSeconds(5));
            if (r[1] != null) acknowledged.add((UUID) r[1]);
            else failures.incrementAndGet();
          } catch (Exception e) {
            failures.incrementAndGet(); // refused while the API restarts: not acknowledged, so nothing promised
          }
        }
      }));
    }
    await().atMost(Duration.ofSeconds(20)).until(() -> acknowledged.size() > 200);
    Component api = deployment.api();
    long killedPid = api.pid();
    api.process.destroyForcibly();
    int beforeKill = acknowledged.size();
    await().atMost(Duration.ofSeconds(60)).until(() -> api.pid() != killedPid && acknowledged.size() > beforeKill + 200);
    running.set(false);
    for (Thread t : clients) t.join();
    assertThat(failures.get()).as("some requests failed while the API was down").isPositive();
    assertThat(countIds(acknowledged, "")).as("every 202 is in the database").isEqualTo(acknowledged.size());
  }

  @Test
  @Order(3)
  void postgres_down_for_10_seconds_gives_503_never_500_and_everything_recovers_without_loss() throws Exception {
    List<UUID> acknowledged = new CopyOnWriteArrayList<>();
    Map<Integer, AtomicLong> statuses = new ConcurrentHashMap<>();
    AtomicLong slowest = new AtomicLong();
    AtomicBoolean running = new AtomicBoolean(true);
    Thread client = Thread.ofPlatform().start(() -> {
      while (running.get()) {
        long t0 = System.nanoTime();
        try {
          Object[] r = submit("{\"type\":\"noop\"}", UUID.randomUUID().toString(), Duration.ofSeconds(30));
          statuses.computeIfAbsent((Integer) r[0], k -> new AtomicLong()).incrementAndGet();
          if (r[1] != null) acknowledged.add((UUID) r[1]);
        } catch (Exception e) {
          statuses.computeIfAbsent(-1, k -> new AtomicLong()).incrementAndGet();
        }
        slowest.accumulateAndGet(System.nanoTime() - t0, Math::max);
      }
    });
    await().atMost(Duration.ofSeconds(20)).until(() -> acknowledged.size() > 50);
    int apiRestarts = deployment.api().restarts;
    deployment.crashPostgres();
    Instant down = Instant.now();
    await().atMost(Duration.ofSeconds(20)).until(() -> statuses.containsKey(503));
    // readiness re-checks the database at most every 500 ms (and the 503 seen may have come from the other server): poll
    await("ready is 503 while the DB is down").atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(100))
        .until(() -> !Health.httpHealthy(deployment.api().port, "/health/ready"));
    await().atLeast(Duration.ZERO).atMost(Duration.ofSeconds(15)).until(() -> Duration.between(down, Instant.now()).toSeconds() >= 10);
    int beforeRestart = acknowledged.size();
    deployment.restartPostgres();
    await().atMost(Duration.ofSeconds(60)).until(() -> acknowledged.size() > beforeRestart + 50);
    running.set(false);
    client.join();
    assertThat(statuses.keySet()).as("statuses seen: " + statuses).containsOnly(202, 503);
    assertThat(Duration.ofNanos(slowest.get())).as("no request hangs beyond the API's timeouts").isLessThan(Duration.ofSeconds(12));
    assertThat(countIds(acknowledged, "")).as("every 202 survived the crash").isEqualTo(acknowledged.size());
    await().atMost(Duration.ofSeconds(60)).until(() -> countIds(acknowledged, " AND state = 'succeeded'") == acknowledged.size());
    assertThat(deployment.api().restarts).as("the API recovered by itself, without a restart").isEqualTo(apiRestarts);
    Instant back = Instant.now();
    await().atMost(Duration.ofSeconds(10)).until(() -> Health.httpHealthy(deployment.api().port, "/health/ready"));
    System.out.println("api-main ready " + Duration.between(back, Instant.now()).toMillis() + " ms after the drill's last check");
  }
}
