package io.bulwark.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.bulwark.core.auth.ApiKey;
import io.bulwark.node.Ports;
import io.bulwark.postgres.ApiKeyRepository;
import io.bulwark.postgres.Database;
import io.bulwark.testkit.EtcdCluster;
import io.bulwark.testkit.TcpProxy;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The database of a cluster failing over through etcd, with three "hosts" on one machine: host-a and
 * host-b each run PostgreSQL under their agent (127.0.0.11, .12), host-c runs an API server, a
 * gateway and a worker (127.0.0.13); a 3-member etcd. The links a partition must sever go through
 * TCP proxies: host-a's agent reaches etcd only through proxies, and the API server reaches each
 * database only through one. Each drill injects the failure under load and measures what the issue
 * promises: writes again after a host is lost, a cut-off primary refusing writes before another is
 * elected, never two primaries accepting writes, and the old primary rejoining by itself.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterFailoverTest {
  static final ObjectMapper JSON = new ObjectMapper();
  static final String PASSWORD = "cluster-test-" + UUID.randomUUID();
  @TempDir(cleanup = org.junit.jupiter.api.io.CleanupMode.ON_SUCCESS) static Path work;
  static EtcdCluster etcd;
  static Path clusterFile;
  static final Map<String, Integer> pgPorts = new ConcurrentHashMap<>();
  static final Map<String, TcpProxy> clientLinks = new ConcurrentHashMap<>(); // the API server -> each database
  static final List<TcpProxy> etcdLinksOfA = new ArrayList<>(); // host-a's agent -> each etcd member
  static final Map<String, Process> agents = new ConcurrentHashMap<>();
  static int gatewayPort;
  /** The built-in monitor's admin API, on host-c (it watches the database hosts from outside). */
  static int monitorPort;
  static ApiKey key;
  /** etcd as the agents see it (straight to the members, not through host-a's proxies). */
  static io.bulwark.etcd.EtcdClusterState clusterState;

  @BeforeAll
  static void start() throws Exception {
    etcd = EtcdCluster.start(3);
    Path passwordFile = work.resolve("db-password");
    Files.writeString(passwordFile, PASSWORD);
    for (String n : List.of("host-a", "host-b")) {
      pgPorts.put(n, Ports.free());
      clientLinks.put(n, new TcpProxy("127.0.0.1", pgPorts.get(n)));
    }
    for (String endpoint : etcd.endpoints()) etcdLinksOfA.add(new TcpProxy("127.0.0.1", URI.create(endpoint).getPort()));
    // TLS between the hosts: one self-signed certificate naming every address, trusted as the CA
    Path cert = work.resolve("tls/node.crt");
    io.bulwark.core.tls.Certificates.writeSelfSigned(cert, work.resolve("tls/node.key"), "bulwark-cluster-test", List.of(),
        List.of("127.0.0.1", "127.0.0.11", "127.0.0.12", "127.0.0.13"), 30);
    gatewayPort = Ports.free();
    monitorPort = Ports.free();
    String etcdList = String.join("\", \"", etcd.endpoints());
    clusterFile = work.resolve("cluster.toml");
    Files.writeString(clusterFile, """
        name = "failover-%s"
        [etcd]
        endpoints = ["%s"]
        [archive]
        uri = "file:%s"
        [database]
        url = "jdbc:postgresql://127.0.0.1:%d,127.0.0.1:%d/bulwark?targetServerType=primary&hostRecheckSeconds=1&connectTimeout=2"
        password-file = "%s"
        [storage]
        blobs = "file:%s"
        [tls]
        ca = "%s"
        cert = "%s"
        key = "%s"
        [[nodes]]
        name = "host-a"
        address = "127.0.0.11"
        runs = ["postgres"]
        [nodes.ports]
        postgres = %d
        [[nodes]]
        name = "host-b"
        address = "127.0.0.12"
        runs = ["postgres"]
        [nodes.ports]
        postgres = %d
        [[nodes]]
        name = "host-c"
        address = "127.0.0.13"
        runs = ["api", "gateway", "worker", "monitor"]
        workers = 1
        [nodes.ports]
        api = %d
        gateway = %d
        gateway-admin = %d
        worker = %d
        monitor-admin = %d
        """.formatted(UUID.randomUUID().toString().substring(0, 8), etcdList, work.resolve("archive"),
        clientLinks.get("host-a").port(), clientLinks.get("host-b").port(), passwordFile, work.resolve("blobs"),
        cert, cert, work.resolve("tls/node.key"), pgPorts.get("host-a"), pgPorts.get("host-b"), Ports.free(), gatewayPort, Ports.free(), Ports.free(), monitorPort));
    clusterState = io.bulwark.etcd.EtcdClusterState.of(io.bulwark.cluster.spec.ClusterSpec.read(clusterFile), Duration.ofSeconds(2));
    List<String> viaProxies = new ArrayList<>();
    for (TcpProxy p : etcdLinksOfA) viaProxies.addAll(List.of("--etcd-endpoint", "http://127.0.0.1:" + p.port()));
    agents.put("host-a", agent("host-a", viaProxies));
    // host-a first, so that it initializes the database and leads (its links are the proxied ones)
    await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500)).until(() -> "pg-primary".equals(dbRoles().get("host-a")));
    agents.put("host-b", agent("host-b", List.of()));
    agents.put("host-c", agent("host-c", List.of()));
  }

  @AfterAll
  static void stop() throws Exception {
    // an agent leaves its PostgreSQL running under its keeper for a while (for its restart): end them all here
    List<ProcessHandle> started = agents.values().stream().flatMap(Process::descendants).toList();
    for (Process p : agents.values()) p.destroy();
    for (Process p : agents.values()) if (!p.waitFor(60, TimeUnit.SECONDS)) p.destroyForcibly();
    started.forEach(ProcessHandle::destroyForcibly);
    for (ProcessHandle h : started) {
      try {
        h.onExit().get(10, TimeUnit.SECONDS);
      } catch (java.util.concurrent.TimeoutException e) {
        System.out.println("still running 10 s after SIGKILL: pid " + h.pid());
      }
    }
    if (clusterState != null) clusterState.close();
    for (TcpProxy p : clientLinks.values()) p.close();
    for (TcpProxy p : etcdLinksOfA) p.close();
    if (etcd != null) etcd.close();
  }

  static Process agent(String node, List<String> extra) throws IOException {
    List<String> args = new ArrayList<>(List.of("agent", "--cluster", clusterFile.toString(), "--node", node,
        "--data-dir", work.resolve(node).toString(), "--component-heap", "128m"));
    args.addAll(extra);
    return AgentTest.cli(work.resolve(node + "-agent.log"), args.toArray(String[]::new));
  }

  static String run(String... args) throws Exception {
    Path out = Files.createTempFile(work, "cli", ".out");
    Process p = AgentTest.cli(out, args);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    return p.exitValue() + "\n" + Files.readString(out);
  }

  /** The database role each node's agent registered ("pg-primary", "pg-standby", ...), by node. */
  static Map<String, String> dbRoles() throws Exception {
    Map<String, String> roles = new java.util.HashMap<>();
    for (JsonNode n : clusterStatus()) {
      for (JsonNode c : n.path("components")) {
        if (c.path("name").asText().endsWith("-postgres")) roles.put(n.path("node").asText(), c.path("role").asText());
      }
    }
    return roles;
  }

  /**
   * The nodes' registrations in etcd, as `status --cluster --json` prints them, read in this JVM
   * through one client: polling with a CLI process each time cost a JVM start per poll, seconds of
   * CPU taken from the drills being timed (the CLI's own output is checked in the first drill).
   */
  static JsonNode clusterStatus() throws Exception {
    com.fasterxml.jackson.databind.node.ArrayNode out = JSON.createArrayNode();
    Map<String, byte[]> members;
    try {
      members = clusterState.members();
    } catch (RuntimeException e) {
      System.out.println("cannot read the registrations from etcd: " + e);
      return out;
    }
    for (byte[] registration : members.values()) out.add(JSON.readTree(registration));
    return out;
  }

  static String synchronousStandbyOf(String node) throws Exception {
    for (JsonNode n : clusterStatus()) {
      for (JsonNode c : n.path("components")) {
        if (c.path("name").asText().equals(node + "-postgres")) return c.path("synchronousStandby").asText("");
      }
    }
    return "";
  }

  static Connection direct(String node, int timeoutSeconds) throws SQLException {
    Properties p = new Properties();
    p.setProperty("user", "bulwark");
    p.setProperty("password", PASSWORD);
    p.setProperty("connectTimeout", "1");
    p.setProperty("socketTimeout", Integer.toString(timeoutSeconds));
    return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + pgPorts.get(node) + "/bulwark", p);
  }

  /** Whether node accepts a write right now: a commit that comes back within a second (a primary whose synchronous standby is gone does not). */
  static boolean acceptsWrite(String node) {
    try (Connection c = direct(node, 1); Statement st = c.createStatement()) {
      st.execute("INSERT INTO drill_probe (at) VALUES (clock_timestamp())");
      return st.getWarnings() == null; // "canceling wait for synchronous replication" is not an acknowledgement
    } catch (SQLException e) {
      return false;
    }
  }

  static String primary() throws Exception {
    Map<String, String> roles = dbRoles();
    return roles.entrySet().stream().filter(e -> e.getValue().equals("pg-primary")).map(Map.Entry::getKey).findFirst().orElse(null);
  }

  /** Waits until one node is primary and the other its streaming, synchronous standby; returns the primary. */
  static String awaitSynchronousPair(Duration within) throws Exception {
    await().atMost(within).pollInterval(Duration.ofMillis(500)).until(() -> {
      String p = primary();
      if (p == null) return false;
      try (Connection c = direct(p, 5); Statement st = c.createStatement();
          ResultSet rs = st.executeQuery("SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync' AND state = 'streaming'")) {
        rs.next();
        return rs.getInt(1) == 1 && dbRoles().values().stream().filter(r -> r.equals("pg-standby")).count() == 1;
      } catch (SQLException e) {
        return false;
      }
    });
    String p = primary();
    // db/sync names the standby once it has caught up with the moment it became synchronous
    await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(250)).until(() -> !synchronousStandbyOf(p).isEmpty());
    return p;
  }

  @Test
  @Order(1)
  void the_cluster_elects_one_primary_seeds_the_other_node_from_the_archive_and_serves_tasks() throws Exception {
    String p = awaitSynchronousPair(Duration.ofSeconds(180));
    key = ApiKey.generate();
    // api_keys exists once the API server has migrated the schema: until then this is retried
    await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500)).ignoreExceptions().until(() -> {
      try (Database db = Database.open(new Database.Config("jdbc:postgresql://127.0.0.1:" + pgPorts.get(p) + "/bulwark", "bulwark",
          PASSWORD, 1, Duration.ofSeconds(3), "cluster-test"))) {
        new ApiKeyRepository(db).create(key.id(), "tenant-a", "cluster test", key.secretHash(), false);
        return true;
      }
    });
    // only after the migration: Flyway refuses to migrate a schema that holds a table and no history
    try (Connection c = direct(p, 5); Statement st = c.createStatement()) {
      st.execute("CREATE TABLE IF NOT EXISTS drill_probe (at timestamptz NOT NULL)");
    }
    HttpClient http = HttpClient.newHttpClient();
    await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500)).ignoreExceptions()
        .until(() -> submit(http).statusCode() == 202);
    String status = run("status", "--cluster", clusterFile.toString(), "--json");
    assertThat(status).as("the CLI shows what etcd holds").contains("\"node\" : \"host-a\"").contains("\"node\" : \"host-c\"")
        .contains("pg-primary").contains("pg-standby");
    String events = run("events", "--cluster", clusterFile.toString());
    assertThat(events).contains("initialized the cluster's database").contains("seeded from backup");

    // [tls]: the standby streams and the API server and worker connect over TLS (verify-full)
    Map<String, Boolean> ssl = new java.util.TreeMap<>();
    try (Connection c = direct(p, 5); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(
        "SELECT a.backend_type || ':' || a.application_name AS who, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)"
            + " WHERE a.backend_type = 'walsender' OR a.application_name LIKE 'host-c-%'")) {
      while (rs.next()) ssl.merge(rs.getString(1), rs.getBoolean(2), Boolean::logicalAnd);
    }
    assertThat(ssl.keySet()).as("%s", ssl).anyMatch(w -> w.startsWith("walsender:")).anyMatch(w -> w.contains(":host-c-api"))
        .anyMatch(w -> w.contains(":host-c-worker"));
    assertThat(ssl.values()).as("%s", ssl).containsOnly(true);
  }

  static HttpResponse<String> submit(HttpClient http) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.13:" + gatewayPort + "/v1/tasks"))
        .header("Authorization", "Bearer " + key.token()).header("Content-Type", "application/json")
        .header("Idempotency-Key", UUID.randomUUID().toString()).timeout(Duration.ofSeconds(10))
        .POST(HttpRequest.BodyPublishers.ofString("{\"type\":\"noop\"}")).build(), HttpResponse.BodyHandlers.ofString());
  }

  /** Submits all the time from two threads; every acknowledged (202) task id and when it was acknowledged. */
  static final class Submitter implements AutoCloseable {
    final List<String> acknowledged = new CopyOnWriteArrayList<>();
    final List<Long> ackedAtNanos = new CopyOnWriteArrayList<>();
    final AtomicLong failed = new AtomicLong();
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final List<Thread> threads = new ArrayList<>();

    Submitter() {
      HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
      for (int i = 0; i < 2; i++) {
        threads.add(Thread.ofPlatform().name("submitter-" + i).start(() -> {
          while (running.get()) {
            long sent = System.nanoTime();
            try {
              HttpResponse<String> r = submit(http);
              if (r.statusCode() == 202) {
                acknowledged.add(JSON.readTree(r.body()).path("id").asText());
                ackedAtNanos.add(sent);
              } else {
                failed.incrementAndGet();
              }
            } catch (Exception e) {
              failed.incrementAndGet();
            }
            java.util.concurrent.locks.LockSupport.parkNanos(20_000_000L); // ~50 submits/s per thread
          }
        }));
      }
    }

    /** The first acknowledgement of a submit sent after {@code nanos}. */
    long firstAckSentAfter(long nanos) {
      return ackedAtNanos.stream().filter(t -> t - nanos > 0).min(Long::compare).orElse(Long.MAX_VALUE);
    }

    @Override
    public void close() throws InterruptedException {
      running.set(false);
      for (Thread t : threads) t.join();
    }
  }

  /** Call with the load stopped: an id acknowledged after the query's snapshot would count as lost. */
  static void assertAllAcknowledgedTasksExist(String node, List<String> acknowledged) throws Exception {
    List<String> ids = List.copyOf(acknowledged);
    Set<String> found = new HashSet<>();
    try (Connection c = direct(node, 30); PreparedStatement st = c.prepareStatement("SELECT id::text FROM tasks WHERE id = ANY(?::uuid[])")) {
      st.setArray(1, c.createArrayOf("text", ids.toArray()));
      try (ResultSet rs = st.executeQuery()) {
        while (rs.next()) found.add(rs.getString(1));
      }
    }
    List<String> lost = ids.stream().filter(id -> !found.contains(id)).toList();
    assertThat(lost).as("acknowledged tasks missing on the new primary " + node).isEmpty();
  }

  @Test
  @Order(2)
  void the_primarys_host_cut_off_stops_writing_before_the_standby_takes_over_and_rejoins_by_itself() throws Exception {
    String old = awaitSynchronousPair(Duration.ofSeconds(120));
    assertThat(old).as("host-a's links are the proxied ones").isEqualTo("host-a");
    String next = "host-b";
    AtomicBoolean sampling = new AtomicBoolean(true);
    List<long[]> samples = new CopyOnWriteArrayList<>(); // {at, a accepts, b accepts}
    Thread sampler = Thread.ofPlatform().name("two-primaries-sampler").start(() -> {
      while (sampling.get()) {
        long at = System.nanoTime();
        var a = java.util.concurrent.CompletableFuture.supplyAsync(() -> acceptsWrite(old));
        var b = java.util.concurrent.CompletableFuture.supplyAsync(() -> acceptsWrite(next));
        samples.add(new long[] {at, a.join() ? 1 : 0, b.join() ? 1 : 0});
        java.util.concurrent.locks.LockSupport.parkNanos(Math.max(0, 100_000_000L - (System.nanoTime() - at)));
      }
    });
    long cutAt;
    try (Submitter load = new Submitter()) {
      try {
      await().atMost(Duration.ofSeconds(30)).until(() -> load.acknowledged.size() >= 20);
      cutAt = System.nanoTime();
      for (TcpProxy p : etcdLinksOfA) p.partition();
      clientLinks.get(old).partition();
      await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
          .until(() -> samples.stream().anyMatch(s -> s[0] - cutAt > 0 && s[2] == 1) && load.firstAckSentAfter(cutAt + 7_000_000_000L) != Long.MAX_VALUE);
      sampling.set(false);
      sampler.join();
      long refusedAt = samples.stream().filter(s -> s[0] - cutAt > 0 && s[1] == 0).mapToLong(s -> s[0]).min().orElseThrow();
      long lastAcceptedByOld = samples.stream().filter(s -> s[1] == 1).mapToLong(s -> s[0]).max().orElse(cutAt);
      long newAcceptsAt = samples.stream().filter(s -> s[0] - cutAt > 0 && s[2] == 1).mapToLong(s -> s[0]).min().orElseThrow();
      List<long[]> both = samples.stream().filter(s -> s[1] == 1 && s[2] == 1).toList();
      System.out.printf("partition drill: %s refused writes %d ms after the cut (last accepted at +%d ms); %s accepted writes %d ms"
          + " after the cut; %d samples, %d with two primaries%n", old, (refusedAt - cutAt) / 1_000_000,
          (lastAcceptedByOld - cutAt) / 1_000_000, next, (newAcceptsAt - cutAt) / 1_000_000, samples.size(), both.size());
      assertThat(both).as("samples in which both nodes accepted a write").isEmpty();
      assertThat(Duration.ofNanos(lastAcceptedByOld - cutAt)).as("the cut-off primary stops accepting writes").isLessThanOrEqualTo(Duration.ofSeconds(5));
      assertThat(Duration.ofNanos(newAcceptsAt - cutAt)).as("the new primary accepts writes").isLessThanOrEqualTo(Duration.ofSeconds(15));
      load.close();
      assertAllAcknowledgedTasksExist(next, load.acknowledged);
      } finally {
        // healed: the old primary comes back as a standby of the new one, with no manual step
        for (TcpProxy p : etcdLinksOfA) p.heal();
        clientLinks.get(old).heal();
      }
    }
    await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500))
        .until(() -> "pg-standby".equals(dbRoles().get(old)) && "pg-primary".equals(dbRoles().get(next)));
    assertThat(run("events", "--cluster", clusterFile.toString())).contains(old + " seeded from backup");
  }

  @Test
  @Order(3)
  void the_whole_primary_host_lost_under_load_writes_resume_within_ten_seconds_and_no_acknowledged_task_is_lost() throws Exception {
    String old = awaitSynchronousPair(Duration.ofSeconds(120));
    String next = old.equals("host-a") ? "host-b" : "host-a";
    Process agent = agents.get(old);
    // the monitor on host-c: earlier drills' incidents resolve 5 s after their checks are OK; give them a moment, so that
    // this host's loss cannot join one of them (the assertions below count the incidents opened after the kill)
    try {
      await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(500))
          .until(() -> monitorIncidents().stream().allMatch(i -> i.path("state").asText().equals("RESOLVED")));
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      System.out.println("host-loss drill: the monitor still has an open incident from an earlier drill: " + monitorIncidents().get(0));
    }
    java.time.Instant killedWall = java.time.Instant.now();
    try (Submitter load = new Submitter()) {
      await().atMost(Duration.ofSeconds(30)).until(() -> load.acknowledged.size() >= 20);
      List<ProcessHandle> host = new ArrayList<>(agent.descendants().toList());
      killedWall = java.time.Instant.now();
      long killedAt = System.nanoTime();
      agent.destroyForcibly();
      host.forEach(ProcessHandle::destroyForcibly);
      await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
          .until(() -> load.firstAckSentAfter(killedAt) != Long.MAX_VALUE);
      Duration writesAgain = Duration.ofNanos(load.firstAckSentAfter(killedAt) - killedAt);
      System.out.printf("host-loss drill: %s's host killed; a submit sent %d ms later was acknowledged (new primary %s);"
          + " %d acknowledged, %d failed meanwhile%n", old, writesAgain.toMillis(), next, load.acknowledged.size(), load.failed.get());
      assertThat(writesAgain).as("writes accepted again after the primary's host is lost").isLessThanOrEqualTo(Duration.ofSeconds(10));
      load.close();
      assertAllAcknowledgedTasksExist(next, load.acknowledged);
    }
    // the monitor: one incident for the host and the failover it caused, with the failover's time in it
    java.time.Instant since = killedWall;
    await("the monitor's incident").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(250))
        .until(() -> monitorIncidents().stream().anyMatch(i -> java.time.Instant.parse(i.path("openedAt").asText()).isAfter(since)
            && i.path("checks").has("node:" + old)));
    // incidents the monitor opened and then merged into the failover's (API servers that lost the database first) do not count
    List<JsonNode> opened = monitorIncidents().stream()
        .filter(i -> java.time.Instant.parse(i.path("openedAt").asText()).isAfter(since) && !i.path("mergedInto").isNumber()).toList();
    System.out.printf("host-loss drill: the monitor on host-c opened %d incident(s): %s%n", opened.size(),
        opened.stream().map(i -> i.path("title").asText()).toList());
    assertThat(opened).as("one incident for the lost host and its failover").hasSize(1);
    assertThat(opened.get(0).path("timeline").toString()).containsPattern("promoted in \\d+ ms");
    agents.put(old, agent(old, old.equals("host-a") ? etcdArgsOfA() : List.of()));
    await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500)).until(() -> "pg-standby".equals(dbRoles().get(old)));
  }

  /** The incidents of the monitor on host-c, newest first (empty while it does not answer). */
  static List<JsonNode> monitorIncidents() {
    try {
      java.net.http.HttpResponse<String> r = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest
          .newBuilder(URI.create("http://127.0.0.1:" + monitorPort + "/incidents")).timeout(Duration.ofSeconds(5)).build(),
          java.net.http.HttpResponse.BodyHandlers.ofString());
      List<JsonNode> out = new ArrayList<>();
      JSON.readTree(r.body()).forEach(out::add);
      return out;
    } catch (Exception e) {
      return List.of();
    }
  }

  @Test
  @Order(4)
  void one_etcd_member_lost_changes_nothing_and_fails_no_request() throws Exception {
    String primary = awaitSynchronousPair(Duration.ofSeconds(120));
    EtcdCluster.Member member = etcd.members().get(0);
    try (Submitter load = new Submitter()) {
      await().atMost(Duration.ofSeconds(30)).until(() -> load.acknowledged.size() >= 20);
      int before = load.acknowledged.size();
      long failedBefore = load.failed.get();
      etcd.kill(member);
      // longer than the lease: a leader that could not renew through the other two members would have stepped down
      long until = System.nanoTime() + Duration.ofSeconds(8).toNanos();
      await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(200)).until(() -> System.nanoTime() - until > 0);
      load.close();
      System.out.printf("etcd member drill: %s killed; %d submits acknowledged meanwhile, %d failed%n", member.clientUrl(),
          load.acknowledged.size() - before, load.failed.get() - failedBefore);
      assertThat(load.failed.get() - failedBefore).as("failed submits while one etcd member was down").isZero();
      assertThat(primary()).as("no failover").isEqualTo(primary);
    } finally {
      etcd.restart(member);
    }
  }

  @Test
  @Order(5)
  void without_etcd_quorum_the_primary_stops_writing_within_the_lease_and_nobody_is_promoted() throws Exception {
    String primary = awaitSynchronousPair(Duration.ofSeconds(120));
    String standby = primary.equals("host-a") ? "host-b" : "host-a";
    List<EtcdCluster.Member> lost = etcd.members().subList(1, 3);
    List<long[]> samples = new CopyOnWriteArrayList<>();
    long cutAt = System.nanoTime();
    try {
      for (EtcdCluster.Member m : lost) etcd.kill(m);
      long until = cutAt + Duration.ofSeconds(12).toNanos();
      while (System.nanoTime() - until < 0) {
        long at = System.nanoTime();
        var p = java.util.concurrent.CompletableFuture.supplyAsync(() -> acceptsWrite(primary));
        var s = java.util.concurrent.CompletableFuture.supplyAsync(() -> acceptsWrite(standby));
        samples.add(new long[] {at, p.join() ? 1 : 0, s.join() ? 1 : 0});
        java.util.concurrent.locks.LockSupport.parkNanos(Math.max(0, 100_000_000L - (System.nanoTime() - at)));
      }
    } finally {
      for (EtcdCluster.Member m : lost) etcd.restart(m);
    }
    long lastAccepted = samples.stream().filter(x -> x[1] == 1).mapToLong(x -> x[0]).max().orElse(cutAt);
    System.out.printf("quorum drill: %s accepted its last write %d ms after etcd lost quorum; %s accepted %d writes (must be 0)%n",
        primary, (lastAccepted - cutAt) / 1_000_000, standby, samples.stream().filter(x -> x[2] == 1).count());
    assertThat(Duration.ofNanos(lastAccepted - cutAt)).as("the primary serves at most the lease (5 s) without etcd")
        .isLessThanOrEqualTo(Duration.ofSeconds(5));
    assertThat(samples.stream().filter(x -> x[2] == 1).count()).as("writes accepted by the standby: no promotion without quorum").isZero();
    // quorum back: a node that holds every acknowledged commit leads again, by itself
    await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(250))
        .until(() -> acceptsWrite(primary) || acceptsWrite(standby));
    awaitSynchronousPair(Duration.ofSeconds(120));
  }

  @Test
  @Order(6)
  void restarting_the_standby_hosts_agent_fails_no_request_and_changes_no_primary() throws Exception {
    String primary = awaitSynchronousPair(Duration.ofSeconds(120));
    String standby = primary.equals("host-a") ? "host-b" : "host-a";
    try (Submitter load = new Submitter()) {
      await().atMost(Duration.ofSeconds(30)).until(() -> load.acknowledged.size() >= 20);
      long failedBefore = load.failed.get();
      Process agent = agents.get(standby);
      agent.destroy(); // SIGTERM, as systemctl restart does: the agent leaves its PostgreSQL running under its keeper
      assertThat(agent.waitFor(60, TimeUnit.SECONDS)).isTrue();
      agents.put(standby, agent(standby, standby.equals("host-a") ? etcdArgsOfA() : List.of()));
      await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500)).until(() -> standby.equals(synchronousStandbyOf(primary)));
      load.close();
      System.out.printf("agent restart drill: %s's agent restarted; %d submits acknowledged, %d failed meanwhile%n", standby,
          load.acknowledged.size(), load.failed.get() - failedBefore);
      assertThat(load.failed.get() - failedBefore).as("failed submits while the standby's agent restarted").isZero();
      assertThat(primary()).as("no failover").isEqualTo(primary);
      assertAllAcknowledgedTasksExist(primary, load.acknowledged);
    }
  }

  @Test
  @Order(7)
  void restarting_the_primary_hosts_agent_fails_no_request_and_changes_no_primary() throws Exception {
    String primary = awaitSynchronousPair(Duration.ofSeconds(120));
    String standby = primary.equals("host-a") ? "host-b" : "host-a";
    long serverPid = postgresPid(primary);
    long restartedAt;
    try (Submitter load = new Submitter()) {
      await().atMost(Duration.ofSeconds(30)).until(() -> load.acknowledged.size() >= 20);
      long failedBefore = load.failed.get();
      Process agent = agents.get(primary);
      restartedAt = System.nanoTime();
      agent.destroy(); // SIGTERM, as systemctl restart does: the agent leaves its primary running under its keeper
      assertThat(agent.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(ProcessHandle.of(serverPid).map(ProcessHandle::isAlive)).as("the primary outlives its agent").contains(true);
      long stoppedAt = System.nanoTime();
      agents.put(primary, agent(primary, primary.equals("host-a") ? etcdArgsOfA() : List.of()));
      await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100)).until(() -> primary.equals(primary()));
      long adoptedAt = System.nanoTime();
      await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(250)).until(() -> standby.equals(synchronousStandbyOf(primary)));
      int before = load.acknowledged.size();
      await().atMost(Duration.ofSeconds(30)).until(() -> load.acknowledged.size() >= before + 20);
      load.close();
      System.out.printf("primary agent restart drill: %s's agent stopped in %d ms, and the new one led again %d ms after it was started;"
          + " %d submits acknowledged, %d failed meanwhile%n", primary, Duration.ofNanos(stoppedAt - restartedAt).toMillis(),
          Duration.ofNanos(adoptedAt - stoppedAt).toMillis(), load.acknowledged.size(), load.failed.get() - failedBefore);
      assertThat(load.failed.get() - failedBefore).as("failed submits while the primary's agent restarted").isZero();
      assertThat(postgresPid(primary)).as("the restarted agent adopted the running primary").isEqualTo(serverPid);
      assertAllAcknowledgedTasksExist(primary, load.acknowledged);
    }
    String since = (Duration.ofNanos(System.nanoTime() - restartedAt).toSeconds() + 5) + "s";
    String recent = run("events", "--cluster", clusterFile.toString(), "--since", since);
    assertThat(recent).as("no failover: the restarted agent continued its lease").contains(primary + "'s agent adopted its running PostgreSQL")
        .contains(primary + " continues as primary").doesNotContain("took over as primary");
  }

  @Test
  @Order(8)
  void a_switchover_hands_the_primary_over_and_the_old_primary_rejoins_without_a_rebuild() throws Exception {
    String old = awaitSynchronousPair(Duration.ofSeconds(120));
    String next = old.equals("host-a") ? "host-b" : "host-a";
    long began = System.nanoTime();
    try (Submitter load = new Submitter()) {
      await().atMost(Duration.ofSeconds(30)).until(() -> load.acknowledged.size() >= 20);
      long failedBefore = load.failed.get();
      String out = run("db", "failover", "--cluster", clusterFile.toString());
      assertThat(out).startsWith("0\n").contains("switchover done: " + next + " is the primary (was " + old + ")");
      await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500)).until(() -> old.equals(synchronousStandbyOf(next)));
      load.close();
      System.out.printf("switchover drill: %s handed over to %s; %d submits acknowledged, %d failed meanwhile%n",
          old, next, load.acknowledged.size(), load.failed.get() - failedBefore);
      assertAllAcknowledgedTasksExist(next, load.acknowledged);
    }
    String since = (Duration.ofNanos(System.nanoTime() - began).toSeconds() + 5) + "s";
    String recent = run("events", "--cluster", clusterFile.toString(), "--since", since);
    assertThat(recent).as("the cleanly stopped primary hands over and rejoins as a standby without a rebuild")
        .contains(old + " handed over to " + next).doesNotContain(old + " seeded from");
  }

  /** The pid of {@code node}'s PostgreSQL as its agent registered it (-1: not running). */
  static long postgresPid(String node) throws Exception {
    for (JsonNode n : clusterStatus()) {
      for (JsonNode c : n.path("components")) {
        if (c.path("name").asText().equals(node + "-postgres")) return c.path("pid").asLong(-1);
      }
    }
    return -1;
  }

  static List<String> etcdArgsOfA() {
    List<String> out = new ArrayList<>();
    for (TcpProxy p : etcdLinksOfA) out.addAll(List.of("--etcd-endpoint", "http://127.0.0.1:" + p.port()));
    return out;
  }
}
