package io.bulwark.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.bulwark.node.Component;
import io.bulwark.node.DataDir;
import io.bulwark.node.LocalDeployment;
import io.bulwark.node.Ports;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14's drills on `up --dns bind`: the real gateways, the real BIND 9, the DNS controller as its
 * own supervised process. Every answer is read through BIND with `dig`, as a client resolves the name.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DnsFrontDoorDrillTest {
  static final String NAME = "api.bulwark.test";
  @TempDir static Path root;
  static LocalDeployment deployment;
  static int dnsPort;

  @BeforeAll
  static void up() {
    dnsPort = Ports.free();
    deployment = new LocalDeployment(new DataDir(root), LocalDeployment.Options.defaults().withMonitoring(LocalDeployment.Monitoring.OFF).withPort(Ports.free()).withWorkers(1)
        .withStandby(false).withFrontDoor(LocalDeployment.FrontDoor.defaults(dnsPort)));
    deployment.start();
  }

  @AfterAll
  static void down() {
    if (deployment != null) deployment.close();
  }

  static List<String> resolve() {
    try {
      Process p = new ProcessBuilder("dig", "+short", "+tries=1", "+time=1", "@127.0.0.1", "-p", Integer.toString(dnsPort), NAME, "A")
          .redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes()).strip();
      p.waitFor();
      return out.isEmpty() || out.startsWith(";;") ? List.of() : Arrays.asList(out.split("\\s+"));
    } catch (Exception e) {
      throw new IllegalStateException("cannot run dig (apt-get install bind9-dnsutils): " + e, e);
    }
  }

  static Component named(String name) {
    return deployment.frontDoor().stream().filter(c -> c.name.equals(name)).findFirst()
        .or(() -> deployment.supervisor().components().stream().filter(c -> c.name.equals(name)).findFirst()).orElseThrow();
  }

  static int adminState(Component gateway, String server, String state) throws Exception {
    return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.adminPort + "/servers/" + server
        + "/state")).POST(HttpRequest.BodyPublishers.ofString(state)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
  }

  static long awaitResolves(String address, Duration within) {
    long from = System.nanoTime();
    await().atMost(within).pollInterval(Duration.ofMillis(50)).until(() -> resolve().equals(List.of(address)));
    return (System.nanoTime() - from) / 1_000_000;
  }

  @Test
  @Order(1)
  void the_name_starts_on_the_first_gateway_and_a_client_reaches_the_api_through_it() throws Exception {
    assertThat(resolve()).containsExactly("127.0.0.1");
    HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://" + resolve().get(0) + ":"
        + deployment.entryPort() + "/health/ready")).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
    String status = DatabaseFailoverDrillTest.cli("dns", "status", "--data-dir", root.toString());
    assertThat(status).startsWith("0\n").contains("points at  127.0.0.1 (gateway)", "gateway-b", "healthy", "provider   ok");
  }

  @Test
  @Order(2)
  void a_gateway_that_is_alive_but_reaches_no_api_server_is_switched_away_from() throws Exception {
    Component gateway = named("gateway");
    assertThat(adminState(gateway, "api-main", "maint")).isEqualTo(200);
    assertThat(adminState(gateway, "api-backup", "maint")).isEqualTo(200);
    long ms = awaitResolves("127.0.0.2", Duration.ofSeconds(15));
    System.out.println("DRILL dns gateway-without-api-servers: the name points at gateway-b " + ms + " ms after its API servers went to maint");
    assertThat(gateway.alive()).isTrue();
    String refused = DatabaseFailoverDrillTest.cli("dns", "switch", "gateway", "--data-dir", root.toString());
    assertThat(refused).startsWith("1\n").contains("refused", "unhealthy", "--force");
    assertThat(resolve()).containsExactly("127.0.0.2");
    assertThat(adminState(gateway, "api-main", "ready")).isEqualTo(200);
    assertThat(adminState(gateway, "api-backup", "ready")).isEqualTo(200);
    await().atMost(Duration.ofSeconds(15)).until(() -> DatabaseFailoverDrillTest.cli("dns", "switch", "gateway", "--data-dir", root.toString())
        .startsWith("0\n"));
    assertThat(resolve()).as("a planned switch back").containsExactly("127.0.0.1");
  }

  @Test
  @Order(3)
  void a_rolling_restart_of_the_api_servers_drains_them_on_both_gateways_and_fails_nothing() throws Exception {
    try (SteadyLoad viaA = new SteadyLoad("http://127.0.0.1:" + deployment.entryPort(), deployment.adminKey(), 50, 2);
        SteadyLoad viaB = new SteadyLoad("http://127.0.0.2:" + deployment.entryPort(), deployment.adminKey(), 50, 2)) {
      await().atMost(Duration.ofSeconds(20)).until(() -> viaA.ok.get() > 50 && viaB.ok.get() > 50);
      String out = DatabaseFailoverDrillTest.cli("restart", "api", "--data-dir", root.toString());
      assertThat(out).startsWith("0\n").contains("without taking the API out of service");
      long a = viaA.ok.get();
      long b = viaB.ok.get();
      await().atMost(Duration.ofSeconds(10)).until(() -> viaA.ok.get() > a + 20 && viaB.ok.get() > b + 20);
      viaA.close();
      viaB.close();
      assertThat(viaA.failures).as("through gateway").isEmpty();
      assertThat(viaB.failures).as("through gateway-b").isEmpty();
    }
  }

  @Test
  @Order(4)
  void the_active_gateway_lost_under_load_the_name_moves_and_the_other_gateway_fails_nothing() throws Exception {
    Component gateway = named("gateway");
    try (SteadyLoad load = new SteadyLoad("http://127.0.0.2:" + deployment.entryPort(), deployment.adminKey(), 100, 4)) {
      await().atMost(Duration.ofSeconds(20)).until(() -> load.ok.get() > 200);
      deployment.supervisor().forget(gateway); // its host is gone: nothing restarts it
      long killed = System.nanoTime();
      gateway.process.destroyForcibly();
      await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(50)).until(() -> resolve().equals(List.of("127.0.0.2")));
      long ms = (System.nanoTime() - killed) / 1_000_000;
      System.out.println("DRILL dns gateway-killed: the name points at gateway-b " + ms + " ms after SIGKILL of the active gateway"
          + " (target <= 15000 ms; ttl 5 s)");
      assertThat(ms).isLessThanOrEqualTo(15_000);
      long okBefore = load.ok.get();
      await().atMost(Duration.ofSeconds(10)).until(() -> load.ok.get() > okBefore + 100);
      load.close();
      System.out.println("DRILL dns gateway-killed: requests on the surviving gateway: " + load.ok.get() + " ok, " + load.failures.size() + " failed");
      assertThat(load.failures).as("requests already on the surviving gateway").isEmpty();
    }
    HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://" + resolve().get(0) + ":"
        + deployment.entryPort() + "/health/ready")).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as("a client that resolves again reaches the API").isEqualTo(200);
    String events = DatabaseFailoverDrillTest.cli("events", "--data-dir", root.toString());
    assertThat(events).contains("dns.switch", "now points at gateway-b (127.0.0.2), was 127.0.0.1: gateway failed 3 checks in a row");
  }

  @Test
  @Order(5)
  void bind_killed_the_controller_retries_and_the_record_is_still_served_after_it_is_restarted() throws Exception {
    Component bind = named("named");
    long pid = bind.pid();
    bind.process.destroyForcibly();
    await().atMost(Duration.ofSeconds(20)).until(() -> bind.pid() != pid && resolve().equals(List.of("127.0.0.2")));
    String events = DatabaseFailoverDrillTest.cli("events", "--data-dir", root.toString());
    assertThat(events).as("the journal names the restart").contains("named");
    String status = DatabaseFailoverDrillTest.cli("dns", "status", "--data-dir", root.toString());
    assertThat(status).contains("points at  127.0.0.2 (gateway-b)");
  }
}
