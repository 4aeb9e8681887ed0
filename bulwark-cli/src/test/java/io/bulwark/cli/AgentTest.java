package io.bulwark.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.bulwark.core.ProcessSecrets;
import io.bulwark.core.auth.ApiKey;
import io.bulwark.etcd.EtcdClusterState;
import io.bulwark.node.NodeAgent;
import io.bulwark.node.Ports;
import io.bulwark.postgres.ApiKeyRepository;
import io.bulwark.postgres.AppRole;
import io.bulwark.postgres.Database;
import io.bulwark.testkit.EtcdCluster;
import io.bulwark.testkit.PostgresExtension;
import io.bulwark.testkit.TestDatabase;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two "hosts" on their own loopback addresses (127.0.0.11, .12), each run by `bulwark agent` from one
 * cluster file, against a real etcd and a real PostgreSQL: registration, status of the whole cluster
 * from etcd, a task through a gateway to the API servers of both hosts, a crashed component restarted,
 * a lost host gone from the cluster's status within the registration's lease, and the refusals.
 */
@ExtendWith(PostgresExtension.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@ParallelSafe
class AgentTest {
  static final ObjectMapper JSON = new ObjectMapper();
  @TempDir static Path work;
  static EtcdCluster etcd;
  static TestDatabase testDb;
  static Path clusterFile;
  static int gatewayPort;
  static int gatewayAdminPort;
  static String clusterText;
  static final List<Process> agents = new ArrayList<>();
  static Process agentB;

  @BeforeAll
  static void start(TestDatabase db) throws Exception {
    testDb = db;
    etcd = EtcdCluster.start(1);
    // the components connect as the application role, which `db app-role` makes (migrating as the owner first)
    Path passwordFile = work.resolve("app-password");
    Path out = work.resolve("app-role.out");
    Process appRole = cli(out, Map.of(ProcessSecrets.DB_PASSWORD, db.password()), "db", "app-role", "--jdbc-url", db.jdbcUrl(),
        "--db-user", db.user(), "--password-file", passwordFile.toString());
    assertThat(appRole.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(appRole.exitValue()).as(Files.readString(out)).isZero();
    assertThat(Files.readString(out)).contains("role " + AppRole.NAME + " is ready");
    assertThat(Files.getPosixFilePermissions(passwordFile)).containsExactlyInAnyOrder(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
    gatewayPort = Ports.free();
    gatewayAdminPort = Ports.free();
    clusterFile = work.resolve("cluster.toml");
    clusterText = """
        name = "agent-test-%s"
        [etcd]
        endpoints = ["%s"]
        [database]
        url = "%s"
        user = "%s"
        password-file = "%s"
        [storage]
        blobs = "file:%s"
        [[nodes]]
        name = "host-a"
        address = "127.0.0.11"
        runs = ["api", "gateway", "worker"]
        workers = 1
        [nodes.ports]
        api = %d
        gateway = %d
        gateway-admin = %d
        worker = %d
        [[nodes]]
        name = "host-b"
        address = "127.0.0.12"
        runs = ["api", "worker"]
        workers = 1
        [nodes.ports]
        api = %d
        worker = %d
        """.formatted(UUID.randomUUID().toString().substring(0, 8), etcd.endpoints().get(0), db.jdbcUrl(), AppRole.NAME,
        passwordFile, work.resolve("blobs"), Ports.free(), gatewayPort, gatewayAdminPort, Ports.free(), Ports.free(), Ports.free());
    Files.writeString(clusterFile, clusterText);
    agents.add(agent("host-a", "a"));
    agentB = agent("host-b", "b");
    agents.add(agentB);
  }

  @AfterAll
  static void stop() throws Exception {
    for (Process p : agents) p.destroy(); // SIGTERM: the agent stops its components
    for (Process p : agents) if (!p.waitFor(60, TimeUnit.SECONDS)) p.destroyForcibly();
    if (etcd != null) etcd.close();
  }

  static Process agent(String node, String dir) throws IOException {
    return cli(work.resolve("agent-" + dir + ".log"), "agent", "--cluster", clusterFile.toString(), "--node", node,
        "--data-dir", work.resolve(dir).toString(), "--component-heap", "128m");
  }

  static Process cli(Path log, String... args) throws IOException {
    return cli(log, Map.of(), args);
  }

  /** The CLI as a process of its own, with {@code env} added to its environment. */
  static Process cli(Path log, Map<String, String> env, String... args) throws IOException {
    List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "-Xmx96m",
        "--enable-native-access=ALL-UNNAMED"));
    // as ./bulwark runs it: Netty (jetcd's, the gateway's) may use sun.misc.Unsafe without a warning on Java 23+
    if (Runtime.version().feature() >= 23) cmd.add("--sun-misc-unsafe-memory-access=allow");
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    pb.environment().putAll(env);
    return pb.start();
  }

  /** Runs the CLI to its end: exit code, then its output. */
  static String run(String... args) throws Exception {
    Path out = Files.createTempFile(work, "cli", ".out");
    Process p = cli(out, args);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    return p.exitValue() + "\n" + Files.readString(out);
  }

  /**
   * `status --cluster --json`, asked again until it answers: on a busy machine a CLI's etcd read can
   * miss its 2 s deadline, and the command then prints an error instead of the status.
   */
  static JsonNode clusterStatus() throws Exception {
    JsonNode[] status = new JsonNode[1];
    await("status --cluster --json").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200)).ignoreExceptions()
        .until(() -> {
          String out = run("status", "--cluster", clusterFile.toString(), "--json");
          status[0] = JSON.readTree(out.substring(out.indexOf('\n') + 1));
          return status[0].isArray();
        });
    return status[0];
  }

  static JsonNode node(JsonNode status, String name) {
    for (JsonNode n : status) if (n.path("node").asText().equals(name)) return n;
    throw new AssertionError("no node " + name + " in " + status);
  }

  @Test
  @Order(1)
  void every_node_registers_its_components_and_the_cluster_status_comes_from_etcd() throws Exception {
    await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500))
        .until(() -> run("status", "--cluster", clusterFile.toString()).startsWith("0\n"));
    String table = run("status", "--cluster", clusterFile.toString());
    assertThat(table).contains("host-a-api", "host-a-gateway", "host-a-worker-1", "host-b-api", "host-b-worker-1")
        .contains("127.0.0.11", "127.0.0.12");
    JsonNode b = node(clusterStatus(), "host-b");
    assertThat(b.path("agentPid").asLong()).isEqualTo(agentB.pid());
  }

  @Test
  @Order(2)
  void a_task_goes_through_the_gateway_of_one_host_and_is_run_by_a_worker() throws Exception {
    ApiKey key = ApiKey.generate();
    try (Database db = Database.open(new Database.Config(testDb.jdbcUrl(), testDb.user(), testDb.password(), 1,
        Duration.ofSeconds(3), "agent-test"))) {
      new ApiKeyRepository(db).create(key.id(), "tenant-a", "agent test", key.secretHash(), false);
    }
    HttpClient http = HttpClient.newHttpClient();
    String base = "http://127.0.0.11:" + gatewayPort;
    HttpResponse<String> created = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/tasks"))
        .header("Authorization", "Bearer " + key.token()).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"type\":\"sha256\",\"input\":\"hello\"}")).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(created.statusCode()).as(created.body()).isEqualTo(202);
    String id = JSON.readTree(created.body()).path("id").asText();
    HttpResponse<String> done = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/tasks/" + id + "?wait=30"))
        .header("Authorization", "Bearer " + key.token()).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(JSON.readTree(done.body()).path("state").asText()).as(done.body()).isEqualTo("succeeded");

    // the API servers and workers that did it connect as the application role, and no database
    // password is in their environment (readable by any code in them, handlers included)
    int connecting = 0;
    for (ProcessHandle h : agents.stream().flatMap(Process::descendants).toList()) {
      List<String> args;
      String environ;
      try {
        args = List.of(Files.readString(Path.of("/proc/" + h.pid() + "/cmdline"), StandardCharsets.ISO_8859_1).split("\0"));
        environ = Files.readString(Path.of("/proc/" + h.pid() + "/environ"), StandardCharsets.ISO_8859_1);
      } catch (IOException gone) {
        continue;
      }
      if (!args.contains("--jdbc-url")) continue;
      connecting++;
      assertThat(args.get(args.indexOf("--db-user") + 1)).isEqualTo(AppRole.NAME);
      assertThat(environ).as("environment of pid %d", h.pid()).doesNotContain(ProcessSecrets.DB_PASSWORD + "=")
          .doesNotContain(testDb.password()).doesNotContain(Files.readString(work.resolve("app-password")).strip());
    }
    assertThat(connecting).as("API servers and workers of both hosts").isGreaterThanOrEqualTo(4);
  }

  @Test
  @Order(3)
  void a_crashed_component_is_restarted_by_its_agent_and_the_journal_in_etcd_says_so() throws Exception {
    long pid = 0;
    for (JsonNode c : node(clusterStatus(), "host-b").path("components")) {
      if (c.path("name").asText().equals("host-b-worker-1")) pid = c.path("pid").asLong();
    }
    assertThat(pid).isPositive();
    ProcessHandle.of(pid).orElseThrow().destroyForcibly();
    long killed = pid;
    await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500)).until(() -> {
      for (JsonNode c : node(clusterStatus(), "host-b").path("components")) {
        if (c.path("name").asText().equals("host-b-worker-1")) {
          return c.path("pid").asLong() != killed && c.path("restarts").asInt() >= 1 && c.path("healthy").asBoolean();
        }
      }
      return false;
    });
    await("the journal in etcd says so").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500))
        .until(() -> run("events", "--cluster", clusterFile.toString()),
            events -> events.contains("host-b-worker-1 (worker) was killed by signal 9") && events.contains("host-b-worker-1 restarted"));
  }

  @Test
  @Order(4)
  void a_host_whose_agent_is_killed_disappears_from_the_cluster_status_within_the_registration_lease() throws Exception {
    List<ProcessHandle> children = agentB.descendants().toList();
    Duration gone;
    // timed by reading etcd from here: a status CLI per poll would add its own JVM's start (seconds on a busy machine)
    try (EtcdClusterState state = EtcdClusterState.of(io.bulwark.cluster.spec.ClusterSpec.read(clusterFile), Duration.ofSeconds(2))) {
      // polled: on a busy machine one etcd read can miss its 2 s deadline
      await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> state.members().containsKey("host-b"));
      long killedAt = System.nanoTime();
      agentB.destroyForcibly(); // the whole host, as far as the cluster can tell: SIGKILL, no deregistration
      await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(100)).ignoreExceptions()
          .until(() -> !state.members().containsKey("host-b"));
      gone = Duration.ofNanos(System.nanoTime() - killedAt);
    }
    assertThat(node(clusterStatus(), "host-b").path("registered").asBoolean()).as("the status says so too").isFalse();
    System.out.printf("agent drill: host-b's registration expired %d ms after its agent was killed%n", gone.toMillis());
    assertThat(gone).as("the lease (5 s), etcd's expiry sweep, one status poll").isLessThanOrEqualTo(NodeAgent.REGISTRATION_TTL.plusSeconds(5));
    assertThat(run("status", "--cluster", clusterFile.toString())).startsWith("1\n").contains("NO AGENT REGISTERED");
    // the components it started do not outlive it
    await().atMost(Duration.ofSeconds(10)).until(() -> children.stream().noneMatch(ProcessHandle::isAlive));
  }

  @Test
  @Order(5)
  void an_agent_refuses_an_etcd_that_holds_another_cluster_and_a_node_not_in_the_file() throws Exception {
    Path stranger = work.resolve("stranger");
    Files.createDirectories(stranger);
    Files.writeString(stranger.resolve("cluster-id"), "some-other-cluster");
    String refused = run("agent", "--cluster", clusterFile.toString(), "--node", "host-b", "--data-dir", stranger.toString());
    assertThat(refused).startsWith("1\n").contains("etcd holds the state of another cluster").contains("Refusing to join");
    assertThat(run("agent", "--cluster", clusterFile.toString(), "--node", "host-z"))
        .startsWith("1\n").contains("node 'host-z' is not in cluster");
  }

  @Test
  @Order(6)
  void the_systemd_unit_runs_this_agent_for_this_node() throws Exception {
    String unit = run("agent", "--cluster", clusterFile.toString(), "--node", "host-a", "--print-systemd-unit");
    assertThat(unit).startsWith("0\n").contains("[Service]").contains("agent --cluster " + clusterFile.toAbsolutePath() + " --node host-a")
        .contains("Restart=always").contains("KillMode=process");
  }

  @Test
  @Order(7)
  void an_api_host_added_later_is_put_in_service_by_the_running_gateway_from_etcd_and_taken_out_when_it_goes() throws Exception {
    // the new host's file has one more node; nothing else is changed or restarted
    Path bigger = work.resolve("cluster-with-host-d.toml");
    Files.writeString(bigger, clusterText + """
        [[nodes]]
        name = "host-d"
        address = "127.0.0.14"
        runs = ["api"]
        [nodes.ports]
        api = %d
        """.formatted(Ports.free()));
    Process agentD = cli(work.resolve("agent-d.log"), "agent", "--cluster", bigger.toString(), "--node", "host-d",
        "--data-dir", work.resolve("d").toString(), "--component-heap", "128m");
    agents.add(agentD);
    HttpClient http = HttpClient.newHttpClient();
    URI servers = URI.create("http://127.0.0.1:" + gatewayAdminPort + "/servers");
    await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(500)).until(() -> {
      for (JsonNode s : JSON.readTree(http.send(HttpRequest.newBuilder(servers).build(), HttpResponse.BodyHandlers.ofString()).body())) {
        if (s.path("name").asText().equals("host-d-api")) return s.path("usable").asBoolean();
      }
      return false;
    });
    assertThat(run("events", "--cluster", clusterFile.toString())).contains("added host-d-api");
    long killedAt = System.nanoTime();
    agentD.destroyForcibly();
    await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(250)).until(() ->
        !http.send(HttpRequest.newBuilder(servers).build(), HttpResponse.BodyHandlers.ofString()).body().contains("host-d-api"));
    System.out.printf("agent drill: host-d's API server left host-a's gateway %d ms after its agent was killed%n",
        (System.nanoTime() - killedAt) / 1_000_000);
  }
}
