package io.bulwark.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.bulwark.cluster.events.FileEventJournal;
import io.bulwark.node.Component;
import io.bulwark.node.DataDir;
import io.bulwark.node.DbStatus;
import io.bulwark.node.LocalDeployment;
import io.bulwark.node.Ports;
import io.bulwark.postgres.Database;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
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
 * Issue 4's failover drills on the deployment `bulwark up` runs (pg-a + pg-b under the failover
 * controller, API servers and a worker as processes): SIGKILL of the primary's postmaster under a
 * steady submit load, a planned switchover with `bulwark db failover`, and a refused switchover.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DatabaseFailoverDrillTest {
  private static final Pattern ID = Pattern.compile("\"id\":\"([0-9a-f-]{36})\"");

  @TempDir static Path root;
  static LocalDeployment deployment;
  static Database db;
  static HttpClient http;

  @BeforeAll
  static void start() {
    deployment = new LocalDeployment(new DataDir(root), LocalDeployment.Options.defaults().withMonitoring(LocalDeployment.Monitoring.OFF).withPort(Ports.free()).withWorkers(1));
    deployment.start();
    db = deployment.openDatabase("drill", 4);
    http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    await().atMost(Duration.ofSeconds(60)).until(() -> deployment.controller().status().standbyEligible());
  }

  @AfterAll
  static void stop() {
    if (db != null) db.close();
    if (deployment != null) deployment.close();
  }

  /** A client submitting tasks one after another with idempotency keys; records every outcome. */
  static final class SteadySubmitter implements AutoCloseable {
    final List<UUID> acknowledged = new CopyOnWriteArrayList<>();
    final Map<Integer, AtomicLong> statuses = new ConcurrentHashMap<>();
    final AtomicLong lastAck = new AtomicLong();
    final AtomicBoolean running = new AtomicBoolean(true);
    final Thread thread;

    SteadySubmitter() {
      thread = Thread.ofPlatform().name("steady-submitter").start(() -> {
        while (running.get()) {
          String key = UUID.randomUUID().toString();
          int status;
          try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + deployment.entryPort() + "/v1/tasks"))
                .timeout(Duration.ofSeconds(30)).header("Authorization", "Bearer " + deployment.adminKey())
                .header("Content-Type", "application/json").header("Idempotency-Key", key)
                .POST(HttpRequest.BodyPublishers.ofString("{\"type\":\"noop\"}")).build(), HttpResponse.BodyHandlers.ofString());
            status = r.statusCode();
            Matcher m = ID.matcher(r.body());
            if (status == 202 && m.find()) {
              acknowledged.add(UUID.fromString(m.group(1)));
              lastAck.set(System.nanoTime());
            }
          } catch (Exception e) {
            status = -1;
          }
          statuses.computeIfAbsent(status, k -> new AtomicLong()).incrementAndGet();
          LocalDeployment.pause(5);
        }
      });
    }

    @Override
    public void close() throws InterruptedException {
      running.set(false);
      thread.join(40_000);
    }
  }

  @Test
  @Order(1)
  void sigkill_of_the_primary_under_load_promotes_the_standby_within_10_seconds_and_loses_no_acknowledged_task()
      throws Exception {
    Component primary = deployment.primaryNode();
    assertThat(primary.name).isEqualTo("pg-a");
    try (SteadySubmitter load = new SteadySubmitter()) {
      await().atMost(Duration.ofSeconds(20)).until(() -> load.acknowledged.size() > 100);
      long killedAt = System.nanoTime();
      ProcessHandle.of(primary.pid()).orElseThrow().destroyForcibly(); // SIGKILL the postmaster, as `kill -9` would
      await().atMost(Duration.ofSeconds(10)).until(() -> load.lastAck.get() > killedAt);
      long writableAfterMs = (load.lastAck.get() - killedAt) / 1_000_000;
      int atFailover = load.acknowledged.size();
      await().atMost(Duration.ofSeconds(20)).until(() -> load.acknowledged.size() > atFailover + 100);
      load.close();
      System.out.printf("db failover drill: SIGKILL pg-a -> 202s again after %d ms; promotion took %d ms after detection;"
          + " statuses %s%n", writableAfterMs, deployment.controller().status().lastFailover().detectedToPromotedMillis(),
          load.statuses);
      assertThat(writableAfterMs).as("accepting writes again").isLessThan(10_000);
      assertThat(deployment.controller().status().primary()).isEqualTo("pg-b");
      assertThat(load.statuses.keySet()).as("statuses " + load.statuses).isSubsetOf(202, 503);
      assertThat(countIds(load.acknowledged)).as("every acknowledged task survived the failover").isEqualTo(load.acknowledged.size());
    }
    // the old primary was fenced: it comes back only as a standby rebuilt from the new primary
    await().atMost(Duration.ofSeconds(60)).until(() -> deployment.controller().status().standbyEligible());
    assertThat(inRecovery(deployment.standbyNode().port)).isTrue();
    assertThat(deployment.standbyNode().role).isEqualTo("pg-standby");
    assertThat(deployment.primaryNode().role).isEqualTo("pg-primary");
    // the journal tells the story in order: failure detected, old primary fenced, failover done, old primary rebuilt
    List<String> story = new FileEventJournal(new DataDir(root).events()).all().stream()
        .filter(e -> e.kind().startsWith("db.") && e.source().equals("db-failover")).map(e -> e.kind() + " " + e.message()).toList();
    assertThat(story).as(String.join("\n", story)).containsSubsequence(
        "db.failover primary pg-a failed (its process exited); failing over to pg-b",
        "db.fence fenced pg-a (killed; standby.signal and rebuild marker written)");
    assertThat(story).anyMatch(line -> line.startsWith("db.failover failover done: pg-b is primary"))
        .anyMatch(line -> line.startsWith("db.rebuild rebuilt pg-a from pg-b"));
    // the mode is in the API's metrics too
    await().atMost(Duration.ofSeconds(10)).until(() -> http.send(HttpRequest.newBuilder(
            URI.create("http://127.0.0.1:" + deployment.api().port + "/metrics")).build(), HttpResponse.BodyHandlers.ofString())
        .body().contains("bulwark_db_replication_synchronous 1"));
  }

  @Test
  @Order(2)
  void bulwark_db_failover_switches_over_under_load_without_losing_a_task() throws Exception {
    String before = deployment.controller().status().primary();
    try (SteadySubmitter load = new SteadySubmitter()) {
      await().atMost(Duration.ofSeconds(20)).until(() -> load.acknowledged.size() > 50);
      String out = cli("db", "failover", "--data-dir", root.toString());
      assertThat(out).startsWith("0\n").contains("switchover done");
      int at = load.acknowledged.size();
      await().atMost(Duration.ofSeconds(20)).until(() -> load.acknowledged.size() > at + 50);
      load.close();
      assertThat(deployment.controller().status().primary()).isNotEqualTo(before);
      assertThat(load.statuses.keySet()).as("statuses " + load.statuses).isSubsetOf(202, 503);
      assertThat(countIds(load.acknowledged)).isEqualTo(load.acknowledged.size());
    }
    // db status shows the new primary and, once rebuilt, a synchronous standby
    await().atMost(Duration.ofSeconds(60)).until(() -> cli("db", "status", "--data-dir", root.toString()).startsWith("0\n"));
    JsonNode status = DbStatus.JSON.readTree(Files.readString(root.resolve("run/db-status.json")));
    assertThat(status.at("/cluster/primary").asText()).isNotEqualTo(before);
    assertThat(status.at("/cluster/replicationMode").asText()).isEqualTo("synchronous");
  }

  @Test
  @Order(3)
  void a_hung_standby_never_blocks_writes_and_a_switchover_to_it_is_refused_with_the_reason() throws Exception {
    Component standby = deployment.standbyNode();
    List<Long> frozen = new java.util.ArrayList<>();
    frozen.add(standby.pid());
    ProcessHandle.of(standby.pid()).orElseThrow().descendants().forEach(h -> frozen.add(h.pid()));
    signal("STOP", frozen); // alive but silent: only the primary's wal_sender_timeout (5 s) notices
    try (SteadySubmitter load = new SteadySubmitter()) {
      await().atMost(Duration.ofSeconds(15)).until(() -> !deployment.controller().status().standbyEligible());
      int at = load.acknowledged.size();
      await().atMost(Duration.ofSeconds(10)).until(() -> load.acknowledged.size() > at + 50);
      String out = cli("db", "failover", "--data-dir", root.toString());
      assertThat(out).startsWith("1\n").contains("no healthy standby");
      load.close();
      assertThat(load.statuses.keySet()).as("statuses " + load.statuses).isSubsetOf(202, 503);
    } finally {
      signal("CONT", frozen);
    }
    // it wakes up, streams again and is synchronous again
    await().atMost(Duration.ofSeconds(60)).until(() -> deployment.controller().status().standbyEligible());
  }

  static void signal(String signal, List<Long> pids) throws Exception {
    List<String> cmd = new java.util.ArrayList<>(List.of("kill", "-" + signal));
    pids.forEach(p -> cmd.add(Long.toString(p)));
    new ProcessBuilder(cmd).redirectErrorStream(true).start().waitFor();
  }

  @Test
  @Order(4)
  void the_archive_follows_the_failovers_and_restores_a_task_acknowledged_on_the_latest_timeline() throws Exception {
    await().atMost(Duration.ofSeconds(60)).until(() -> deployment.controller().status().standbyEligible());
    long timeline = deployment.controller().status().nodes().stream()
        .filter(n -> n.name().equals(deployment.controller().status().primary())).findFirst().orElseThrow().timeline();
    assertThat(timeline).as("two promotions happened before").isGreaterThanOrEqualTo(3);
    // the first base backup (taken at start, retried if a failover interrupted it)
    await().atMost(Duration.ofSeconds(90)).until(() -> deployment.backups().status().backups() > 0);
    SteadySubmitter one = new SteadySubmitter();
    await().atMost(Duration.ofSeconds(10)).until(() -> !one.acknowledged.isEmpty());
    one.close();
    java.time.Instant acked = java.time.Instant.now();
    UUID id = one.acknowledged.get(one.acknowledged.size() - 1);
    // in the archive within the bound (WAL switched after 3 s, uploaded at once)
    await().atMost(Duration.ofSeconds(10)).until(() -> {
      var a = deployment.backups().status().archiving();
      return a.lastArchivedAt() != null && a.lastArchivedAt().isAfter(acked) && a.pending() == 0;
    });
    Path target = root.resolve("restore-latest");
    long[] found = new long[1];
    io.bulwark.dr.PointInTimeRestore.Result r = io.bulwark.dr.PointInTimeRestore.run(
        new io.bulwark.storage.FileSystemBlobStore(root.resolve("archive")),
        new io.bulwark.dr.PointInTimeRestore.Request(java.util.Optional.empty(), target,
            DataDir.readSecret(root.resolve("pg-password")), null, false),
        (pg, c) -> {
          try (Connection bulwark = java.sql.DriverManager.getConnection(pg.jdbcUrl("bulwark"), pg.user(),
              DataDir.readSecret(root.resolve("pg-password")));
              PreparedStatement ps = bulwark.prepareStatement("SELECT count(*) FROM tasks WHERE id = ?")) {
            ps.setObject(1, id);
            try (ResultSet rs = ps.executeQuery()) {
              rs.next();
              found[0] = rs.getLong(1);
            }
          }
        });
    assertThat(found[0]).as("the task acknowledged on timeline " + timeline + " is in the restore").isEqualTo(1);
    assertThat(r.timeline()).isGreaterThan(timeline);
  }

  // ---------------------------------------------------------------- helpers

  static String cli(String... args) {
    PrintStream out = System.out;
    PrintStream err = System.err;
    ByteArrayOutputStream buffer = new ByteArrayOutputStream();
    PrintStream capture = new PrintStream(buffer, true);
    System.setOut(capture);
    System.setErr(capture);
    int code;
    try {
      code = Main.run(args);
    } finally {
      System.setOut(out);
      System.setErr(err);
    }
    return code + "\n" + buffer;
  }

  static long countIds(List<UUID> ids) throws Exception {
    return FailureDrillsTest.countIds(db, ids, "");
  }

  static boolean inRecovery(int port) throws Exception {
    try (Connection c = java.sql.DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/bulwark", "bulwark",
        DataDir.readSecret(root.resolve("pg-password")));
        Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT pg_is_in_recovery()")) {
      rs.next();
      return rs.getBoolean(1);
    }
  }
}
