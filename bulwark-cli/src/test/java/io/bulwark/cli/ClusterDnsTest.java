package io.bulwark.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.bulwark.dns.BindServer;
import io.bulwark.node.Ports;
import io.bulwark.testkit.EtcdCluster;
import io.bulwark.testkit.PostgresExtension;
import io.bulwark.testkit.TestDatabase;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The front door in a cluster: two hosts (127.0.0.11, .12), each an agent running an API server, a
 * gateway and a DNS controller, coordinated through a real etcd; the name in a real BIND 9. Exactly
 * one controller acts; when the host it runs on is lost with its gateway, the other takes the lease
 * and moves the name.
 */
@ExtendWith(PostgresExtension.class)
class ClusterDnsTest {
  static final String NAME = "api.bulwark.test";
  @TempDir static Path work;
  static EtcdCluster etcd;
  static Process named;
  static BindServer bind;
  static Process agentA;
  static Process agentB;
  static int adminA;
  static int adminB;

  @BeforeAll
  static void start(TestDatabase db) throws Exception {
    etcd = EtcdCluster.start(1);
    int dnsPort = Ports.free();
    bind = BindServer.prepare(new BindServer.Config(work.resolve("named"), "127.0.0.1", dnsPort, "bulwark.test",
        Map.of("api", "127.0.0.11"), Duration.ofSeconds(5)));
    named = bind.start(work.resolve("named.log"), Duration.ofSeconds(20));
    Path passwordFile = work.resolve("db-password");
    Files.writeString(passwordFile, db.password());
    int gatewayPort = Ports.free();
    adminA = Ports.free();
    adminB = Ports.free();
    String cluster = """
        name = "dns-test-%s"
        [etcd]
        endpoints = ["%s"]
        [database]
        url = "%s"
        user = "%s"
        password-file = "%s"
        [storage]
        blobs = "file:%s"
        [dns]
        name = "%s"
        zone = "bulwark.test"
        server = "127.0.0.1:%d"
        tsig-key-file = "%s"
        [[nodes]]
        name = "host-a"
        address = "127.0.0.11"
        runs = ["api", "gateway", "dns"]
        [nodes.ports]
        api = %d
        gateway = %d
        gateway-admin = %d
        dns-admin = %d
        [[nodes]]
        name = "host-b"
        address = "127.0.0.12"
        runs = ["api", "gateway", "dns"]
        [nodes.ports]
        api = %d
        gateway = %d
        gateway-admin = %d
        dns-admin = %d
        """.formatted(UUID.randomUUID().toString().substring(0, 8), etcd.endpoints().get(0), db.jdbcUrl(), db.user(), passwordFile,
        work.resolve("blobs"), NAME, dnsPort, bind.keyFile(), Ports.free(), gatewayPort, Ports.free(), adminA, Ports.free(), gatewayPort,
        Ports.free(), adminB);
    Path file = work.resolve("cluster.toml");
    Files.writeString(file, cluster);
    agentA = AgentTest.cli(work.resolve("agent-a.log"), "agent", "--cluster", file.toString(), "--node", "host-a", "--data-dir",
        work.resolve("a").toString(), "--component-heap", "128m");
    agentB = AgentTest.cli(work.resolve("agent-b.log"), "agent", "--cluster", file.toString(), "--node", "host-b", "--data-dir",
        work.resolve("b").toString(), "--component-heap", "128m");
  }

  @AfterAll
  static void stop() throws Exception {
    for (Process p : List.of(agentA, agentB)) if (p != null) p.destroy();
    for (Process p : List.of(agentA, agentB)) if (p != null && !p.waitFor(60, TimeUnit.SECONDS)) p.destroyForcibly();
    if (named != null) named.destroyForcibly();
    if (etcd != null) etcd.close();
  }

  static JsonNode status(int adminPort) {
    try {
      HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + "/status"))
          .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
      return r.statusCode() == 200 ? AgentTest.JSON.readTree(r.body()) : null;
    } catch (Exception e) {
      return null;
    }
  }

  static List<String> resolve() throws Exception {
    Process p = new ProcessBuilder("dig", "+short", "+tries=1", "+time=1", "@127.0.0.1", "-p", Integer.toString(bind.address().getPort()),
        NAME, "A").redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes()).strip();
    p.waitFor();
    return out.isEmpty() || out.startsWith(";;") ? List.of() : Arrays.asList(out.split("\\s+"));
  }

  static boolean healthy(JsonNode s, String gateway) {
    for (JsonNode g : s.path("gateways")) if (g.path("name").asText().equals(gateway)) return g.path("health").asText().equals("healthy");
    return false;
  }

  @Test
  void one_controller_acts_and_the_other_takes_over_when_its_host_is_lost_with_its_gateway() throws Exception {
    JsonNode[] seen = new JsonNode[2];
    await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500)).until(() -> {
      seen[0] = status(adminA);
      seen[1] = status(adminB);
      return seen[0] != null && seen[1] != null && healthy(seen[0], "host-a-gateway") && healthy(seen[0], "host-b-gateway")
          && healthy(seen[1], "host-a-gateway") && healthy(seen[1], "host-b-gateway");
    });
    JsonNode a = seen[0];
    JsonNode b = seen[1];
    assertThat(a.path("leader").asBoolean() ^ b.path("leader").asBoolean()).as("exactly one controller acts").isTrue();
    // the name points at host-a's gateway, the first, unless host-a's gateway was so slow to start that a
    // controller saw it fail fall (3) checks in a row while host-b's passed: lose whichever host it points at
    List<String> before = resolve();
    assertThat(before).as("the name points at one of the gateways").hasSize(1).isSubsetOf("127.0.0.11", "127.0.0.12");
    boolean onA = before.get(0).equals("127.0.0.11");
    Process lost = onA ? agentA : agentB;
    String survivor = onA ? "host-b" : "host-a";
    String survivorAddress = onA ? "127.0.0.12" : "127.0.0.11";
    int survivorAdmin = onA ? adminB : adminA;
    boolean lostLeader = (onA ? a : b).path("leader").asBoolean();
    long killed = System.nanoTime();
    lost.descendants().forEach(ProcessHandle::destroyForcibly);
    lost.destroyForcibly();
    await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50)).until(() -> resolve().equals(List.of(survivorAddress)));
    long ms = (System.nanoTime() - killed) / 1_000_000;
    System.out.println("DRILL dns cluster host-lost: the name points at " + survivor + "'s gateway " + ms + " ms after the host it pointed at (its gateway"
        + (lostLeader ? " and the acting DNS controller" : "") + ") was killed (target <= 15000 ms)");
    assertThat(ms).isLessThanOrEqualTo(15_000);
    await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100)).until(() -> {
      JsonNode now = status(survivorAdmin);
      return now != null && now.path("leader").asBoolean();
    });
    Path out = work.resolve("events.out");
    Process p = AgentTest.cli(out, "events", "--cluster", work.resolve("cluster.toml").toString());
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    String events = Files.readString(out);
    assertThat(events).contains("dns.switch", "now points at " + survivor + "-gateway (" + survivorAddress + ")");
  }
}
