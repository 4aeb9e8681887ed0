package io.bulwark.dr;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bulwark.cluster.events.EventRecorder;
import io.bulwark.core.io.Fs;
import io.bulwark.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two real PostgreSQL nodes under the failover controller: synchronous replication, SIGKILL of the
 * primary under a steady write load (promoted within 10 s, no acknowledged row lost, old primary
 * fenced and rebuilt as standby), a dead standby never blocks writes, planned switchover.
 */
class FailoverControllerTest {
  private static final String PASSWORD = "failover-test-secret";
  /** The standbys stream as this role, not as the superuser. */
  private static final ReplicationRole REPLICATION = new ReplicationRole(ReplicationRole.DEFAULT_NAME, "replication-test-secret");

  @TempDir Path root;
  private ManagedNode a;
  private ManagedNode b;
  private FailoverController controller;
  private final Set<Long> acknowledged = ConcurrentHashMap.newKeySet();
  private final AtomicLong lastAckNanos = new AtomicLong();
  private final AtomicBoolean writing = new AtomicBoolean();
  private Thread writer;

  @BeforeEach
  void setUp() throws IOException {
    int portA = freePort();
    int portB = freePort();
    Path passfile = root.resolve("pgpass");
    Files.writeString(passfile, "127.0.0.1:*:*:" + REPLICATION.name() + ":" + REPLICATION.password() + "\n");
    Files.setPosixFilePermissions(passfile, PosixFilePermissions.fromString("rw-------"));
    a = new ManagedNode("pg-a", node("pg-a", portA, portB, passfile));
    b = new ManagedNode("pg-b", node("pg-b", portB, portA, passfile));
    controller = new FailoverController(a, b, root.resolve("ha-state.json"), EmbeddedPostgres.DEFAULT_USER, PASSWORD,
        FailoverController.Config.defaults(), EventRecorder.NONE, REPLICATION);
  }

  private EmbeddedPostgres node(String name, int port, int otherPort, Path passfile) {
    Map<String, String> settings = new HashMap<>(
        FailoverController.replicationSettings(name, otherPort, REPLICATION.name(), passfile));
    settings.put("shared_buffers", "32MB");
    settings.put("max_connections", "30");
    return EmbeddedPostgres.builder().dataDir(root.resolve(name)).port(port).password(PASSWORD).settings(settings).build();
  }

  @AfterEach
  void tearDown() throws InterruptedException {
    writing.set(false);
    if (writer != null) writer.join(10_000);
    controller.close();
    a.stop();
    b.stop();
  }

  @Test
  void sigkillOfThePrimaryPromotesTheStandbyWithoutLosingAcknowledgedRows() throws Exception {
    controller.bootstrap();
    controller.start();
    awaitTrue("standby synchronous and eligible", Duration.ofSeconds(60), () -> controller.status().standbyEligible());
    assertThat(controller.status().replicationMode()).isEqualTo("synchronous");
    assertThat(streamingAs(a)).as("the standby streams as the replication role, not the superuser").isEqualTo(REPLICATION.name());
    createTable();
    startWriter();
    awaitTrue("rows written", Duration.ofSeconds(10), () -> acknowledged.size() > 200);

    long killedAt = System.nanoTime();
    a.postgres().kill(); // like the machine dying: postmaster and backends at once
    awaitTrue("b promoted", Duration.ofSeconds(10), () -> "pg-b".equals(controller.status().primary())
        && controller.status().lastFailover() != null);
    int before = acknowledged.size();
    awaitTrue("writes acknowledged again", Duration.ofSeconds(10), () -> acknowledged.size() > before + 20);
    long firstAckAfterKill = Duration.ofNanos(lastAckNanos.get() - killedAt).toMillis();
    System.out.printf("failover: writes stopped by SIGKILL of the primary; controller promoted in %d ms after"
        + " detection; writes acknowledged again within %d ms of the kill%n",
        controller.status().lastFailover().detectedToPromotedMillis(), firstAckAfterKill);
    assertThat(Files.exists(root.resolve("pg-a/standby.signal")) || a.isAlive()).isTrue();

    stopWriter();
    assertThat(rowsOn(b)).containsAll(acknowledged);

    // the fenced node is rebuilt as a standby of the new primary and becomes synchronous again
    awaitTrue("pg-a rebuilt and synchronous", Duration.ofSeconds(60), () -> controller.status().standbyEligible());
    assertThat(inRecovery(a)).isTrue();
    assertThat(inRecovery(b)).isFalse();
  }

  @Test
  void aHungPrimaryIsFencedAndTheStandbyPromotedWithin10Seconds() throws Exception {
    controller.bootstrap();
    controller.start();
    awaitTrue("standby eligible", Duration.ofSeconds(60), () -> controller.status().standbyEligible());
    createTable();
    startWriter();
    awaitTrue("rows written", Duration.ofSeconds(10), () -> acknowledged.size() > 100);
    // freeze the whole node: postmaster and every backend stop answering, the sockets stay open
    java.util.List<Long> frozen = new java.util.ArrayList<>();
    ProcessHandle postmaster = ProcessHandle.of(a.pid()).orElseThrow();
    frozen.add(postmaster.pid());
    postmaster.descendants().forEach(h -> frozen.add(h.pid()));
    long stoppedAt = System.nanoTime();
    signal("STOP", frozen);
    try {
      awaitTrue("b promoted", Duration.ofSeconds(10), () -> "pg-b".equals(controller.status().primary())
          && controller.status().lastFailover() != null);
      System.out.printf("hung primary: promoted %d ms after SIGSTOP%n", (System.nanoTime() - stoppedAt) / 1_000_000);
      assertThat(frozen.stream().allMatch(FailoverControllerTest::deadOrZombie))
          .as("the frozen node was killed (fenced), not left to wake up as a second primary").isTrue();
      int before = acknowledged.size();
      awaitTrue("writes acknowledged again", Duration.ofSeconds(10), () -> acknowledged.size() > before + 20);
      stopWriter();
      assertThat(rowsOn(b)).containsAll(acknowledged);
    } finally {
      signal("CONT", frozen);
    }
  }

  /** Gone, or exited and waiting to be reaped (ProcessHandle.isAlive is true for a zombie). */
  private static boolean deadOrZombie(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      char state = stat.charAt(stat.lastIndexOf(')') + 2);
      return state == 'Z' || state == 'X';
    } catch (IOException e) {
      return true;
    }
  }

  private static void signal(String signal, java.util.List<Long> pids) throws Exception {
    java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of("kill", "-" + signal));
    pids.forEach(p -> cmd.add(Long.toString(p)));
    new ProcessBuilder(cmd).redirectErrorStream(true).start().waitFor();
  }

  @Test
  void aDeadStandbyNeverBlocksWritesAndIsNotPromoted() throws Exception {
    controller.bootstrap();
    controller.start();
    awaitTrue("standby eligible", Duration.ofSeconds(60), () -> controller.status().standbyEligible());
    createTable();
    b.postgres().kill();
    startWriter();
    int before = acknowledged.size();
    awaitTrue("writes go on without the standby", Duration.ofSeconds(8), () -> acknowledged.size() > before + 20);
    assertThat(controller.status().standbyEligible()).isFalse();

    // standby restarted by the controller, synchronous again
    awaitTrue("standby back and eligible", Duration.ofSeconds(30), () -> controller.status().standbyEligible());

    // a hung standby (alive, silent) is dropped from synchronous replication after wal_sender_timeout,
    // and a switchover to it is refused with the reason
    java.util.List<Long> frozen = new java.util.ArrayList<>();
    frozen.add(b.pid());
    ProcessHandle.of(b.pid()).orElseThrow().descendants().forEach(h -> frozen.add(h.pid()));
    signal("STOP", frozen);
    try {
      awaitTrue("hung standby no longer eligible", Duration.ofSeconds(15), () -> !controller.status().standbyEligible());
      int during = acknowledged.size();
      awaitTrue("writes go on without the hung standby", Duration.ofSeconds(8), () -> acknowledged.size() > during + 20);
      assertThatThrownBy(() -> controller.switchover().get())
          .isInstanceOf(ExecutionException.class).hasMessageContaining("no healthy standby");
    } finally {
      signal("CONT", frozen);
    }
    stopWriter();
    awaitTrue("standby synchronous again", Duration.ofSeconds(30), () -> controller.status().standbyEligible());
  }

  @Test
  void plannedSwitchoverSwapsRoles() throws Exception {
    controller.bootstrap();
    controller.start();
    awaitTrue("standby eligible", Duration.ofSeconds(60), () -> controller.status().standbyEligible());
    createTable();
    startWriter();
    awaitTrue("rows written", Duration.ofSeconds(10), () -> acknowledged.size() > 50);
    FailoverController.Failover f = controller.switchover().get();
    assertThat(f.planned()).isTrue();
    assertThat(f.to()).isEqualTo("pg-b");
    int before = acknowledged.size();
    awaitTrue("writes go on", Duration.ofSeconds(10), () -> acknowledged.size() > before + 20);
    stopWriter();
    assertThat(rowsOn(b)).containsAll(acknowledged);
    awaitTrue("pg-a back as synchronous standby", Duration.ofSeconds(60), () -> controller.status().standbyEligible());
    assertThat(HaState.read(root.resolve("ha-state.json")).orElseThrow().primary()).isEqualTo("pg-b");
  }

  @Test
  void aLostPrimaryDirectoryIsNeverReplacedByAnEmptyClusterTheStandbyIsElected() throws Exception {
    controller.bootstrap();
    controller.start();
    awaitTrue("standby eligible", Duration.ofSeconds(60), () -> controller.status().standbyEligible());
    createTable();
    startWriter();
    awaitTrue("rows written", Duration.ofSeconds(10), () -> acknowledged.size() > 20);
    stopWriter();
    controller.close();
    a.stop();
    b.stop();
    Fs.deleteRecursively(root.resolve("pg-a")); // an operator's mistake, a lost disk
    controller = new FailoverController(a, b, root.resolve("ha-state.json"), EmbeddedPostgres.DEFAULT_USER, PASSWORD,
        FailoverController.Config.defaults(), EventRecorder.NONE, REPLICATION);
    controller.bootstrap();
    assertThat(controller.status().primary()).isEqualTo("pg-b");
    assertThat(rowsOn(b)).containsAll(acknowledged);
    controller.start();
    awaitTrue("pg-a rebuilt from pg-b", Duration.ofSeconds(60), () -> controller.status().standbyEligible());
  }

  // ---------------------------------------------------------------- helpers

  private String multiHostUrl() {
    return "jdbc:postgresql://127.0.0.1:" + a.postgres().port() + ",127.0.0.1:" + b.postgres().port()
        + "/postgres?targetServerType=primary&hostRecheckSeconds=1&connectTimeout=2&socketTimeout=10";
  }

  private void createTable() throws SQLException {
    try (Connection c = DriverManager.getConnection(multiHostUrl(), EmbeddedPostgres.DEFAULT_USER, PASSWORD);
        Statement st = c.createStatement()) {
      st.execute("CREATE TABLE IF NOT EXISTS marker (id bigint PRIMARY KEY)");
    }
  }

  private void startWriter() {
    writing.set(true);
    writer = Thread.ofPlatform().name("writer").start(() -> {
      long next = System.nanoTime() % 1_000_000_000L;
      Connection c = null;
      while (writing.get()) {
        try {
          if (c == null) c = DriverManager.getConnection(multiHostUrl(), EmbeddedPostgres.DEFAULT_USER, PASSWORD);
          try (Statement st = c.createStatement()) {
            st.execute("INSERT INTO marker VALUES (" + next + ")");
          }
          acknowledged.add(next);
          lastAckNanos.set(System.nanoTime());
          next++;
        } catch (SQLException e) {
          next++; // the outcome of that insert is unknown: never reuse its id
          try {
            if (c != null) c.close();
          } catch (SQLException ignored) {
            // broken
          }
          c = null;
          pause(50);
        }
      }
      try {
        if (c != null) c.close();
      } catch (SQLException ignored) {
        // done
      }
    });
  }

  private void stopWriter() throws InterruptedException {
    writing.set(false);
    writer.join(15_000);
  }

  /** The role the standby streams from this primary as. */
  private String streamingAs(ManagedNode primary) throws SQLException {
    try (Connection c = DriverManager.getConnection(primary.postgres().jdbcUrl("postgres"), EmbeddedPostgres.DEFAULT_USER, PASSWORD);
        Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT usename FROM pg_stat_replication WHERE state = 'streaming'")) {
      return rs.next() ? rs.getString(1) : null;
    }
  }

  private Set<Long> rowsOn(ManagedNode n) throws SQLException {
    Set<Long> ids = new HashSet<>();
    try (Connection c = DriverManager.getConnection(n.postgres().jdbcUrl("postgres"), EmbeddedPostgres.DEFAULT_USER, PASSWORD);
        Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT id FROM marker")) {
      while (rs.next()) ids.add(rs.getLong(1));
    }
    return ids;
  }

  private boolean inRecovery(ManagedNode n) throws SQLException {
    try (Connection c = DriverManager.getConnection(n.postgres().jdbcUrl("postgres"), EmbeddedPostgres.DEFAULT_USER, PASSWORD);
        Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT pg_is_in_recovery()")) {
      rs.next();
      return rs.getBoolean(1);
    }
  }

  static void awaitTrue(String what, Duration timeout, BooleanSupplier condition) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) throw new AssertionError("timed out after " + timeout + " waiting for: " + what);
      pause(50);
    }
  }

  static void pause(long ms) {
    try {
      Thread.sleep(ms); // polling a condition against a deadline
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
