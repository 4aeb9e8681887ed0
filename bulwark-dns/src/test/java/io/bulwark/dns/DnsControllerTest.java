package io.bulwark.dns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.bulwark.cluster.events.Event;
import io.bulwark.cluster.events.EventJournal;
import io.bulwark.cluster.events.EventRecorder;
import io.bulwark.cluster.lease.InMemoryLeaseStore;
import io.bulwark.cluster.lease.LeaderLease;
import io.bulwark.cluster.lease.LeaseStore;
import io.bulwark.core.metrics.Metrics;
import io.bulwark.etcd.EtcdClusterState;
import io.bulwark.testkit.EtcdCluster;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The DNS controller against the real BIND 9, with stand-in gateways it checks over HTTP: each test
 * breaks something and reads the answer through BIND with `dig`, as a client resolves the name.
 */
class DnsControllerTest {
  static final Duration INTERVAL = Duration.ofMillis(200);
  static LocalBind bind;
  FakeGateway a;
  FakeGateway b;
  final List<Event> events = new CopyOnWriteArrayList<>();
  final List<AutoCloseable> closing = new ArrayList<>();
  final Metrics metrics = new Metrics();

  @BeforeAll
  static void startBind() throws Exception {
    bind = new LocalBind();
  }

  @AfterAll
  static void stopBind() throws Exception {
    bind.close();
  }

  @BeforeEach
  void gateways() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
      port = s.getLocalPort();
    }
    a = new FakeGateway("gateway-a", "127.0.0.1", port);
    b = new FakeGateway("gateway-b", "127.0.0.2", port);
    bind.provider().point("127.0.0.1");
  }

  @AfterEach
  void stop() throws Exception {
    for (AutoCloseable c : closing.reversed()) c.close();
    a.close();
    b.close();
  }

  DnsController controller(LeaseStore leases, String holder) {
    return controller(leases, holder, bind.provider());
  }

  DnsController controller(LeaseStore leases, String holder, DnsProvider provider) {
    EventJournal journal = new EventJournal() {
      @Override
      public void append(Event e) {
        events.add(e);
      }

      @Override
      public Page read(long cursor, int limit) {
        return new Page(List.of(), cursor);
      }
    };
    DnsController c = new DnsController(new DnsController.Config(List.of(a.gateway(), b.gateway()), DnsPolicy.Config.DEFAULTS, INTERVAL,
        INTERVAL, holder, LeaderLease.Config.DEFAULT), provider, leases, new EventRecorder(journal, holder, "dns"), metrics);
    closing.add(c);
    c.start();
    return c;
  }

  static List<String> resolved() {
    return Dig.a(bind.server.address(), LocalBind.NAME);
  }

  boolean recorded(String kind, String text) {
    return events.stream().anyMatch(e -> e.kind().equals(kind) && e.message().contains(text));
  }

  @Test
  void a_dead_gateway_is_replaced_in_dns_within_the_fall_checks() {
    DnsController c = controller(new InMemoryLeaseStore(), "local");
    await().atMost(Duration.ofSeconds(5)).until(() -> c.status().leader() && "gateway-a".equals(c.status().currentGateway()));
    long killed = System.nanoTime();
    a.kill();
    await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20)).until(() -> resolved().equals(List.of("127.0.0.2")));
    long ms = (System.nanoTime() - killed) / 1_000_000;
    assertThat(ms).as("3 checks 200 ms apart, then one update").isLessThan(3_000);
    assertThat(recorded(Event.Kinds.DNS_SWITCH, "now points at gateway-b (127.0.0.2), was 127.0.0.1: gateway-a failed 3 checks")).isTrue();
    assertThat(recorded(Event.Kinds.DNS_GATEWAY, "gateway-a is down")).isTrue();
    assertThat(c.status().lastChange().toGateway()).isEqualTo("gateway-b");
  }

  @Test
  void a_gateway_that_reaches_no_api_server_counts_as_failed() {
    DnsController c = controller(new InMemoryLeaseStore(), "local");
    await().atMost(Duration.ofSeconds(5)).until(() -> "gateway-a".equals(c.status().currentGateway()));
    a.noApiServer();
    await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20)).until(() -> resolved().equals(List.of("127.0.0.2")));
    assertThat(recorded(Event.Kinds.DNS_SWITCH, "HTTP 503")).isTrue();
  }

  @Test
  void the_record_never_points_at_an_unhealthy_gateway() {
    b.noApiServer();
    DnsController c = controller(new InMemoryLeaseStore(), "local");
    await().atMost(Duration.ofSeconds(5)).until(() -> c.status().gateways().get(1).health().equals("down"));
    a.kill();
    await().atMost(Duration.ofSeconds(10)).until(() -> c.status().gateways().get(0).failedInARow() >= DnsPolicy.Config.DEFAULTS.fall() + 3);
    assertThat(resolved()).containsExactly("127.0.0.1");
    b.healthy();
    await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20)).until(() -> resolved().equals(List.of("127.0.0.2")));
  }

  @Test
  void a_provider_outage_is_retried_and_the_switch_completes_when_it_is_back() throws Exception {
    DnsController c = controller(new InMemoryLeaseStore(), "local");
    await().atMost(Duration.ofSeconds(5)).until(() -> "gateway-a".equals(c.status().currentGateway()));
    bind.kill();
    a.kill();
    await().atMost(Duration.ofSeconds(10)).until(() -> recorded(Event.Kinds.DNS_PROVIDER, "failed"));
    assertThat(c.status().providerProblem()).contains("did not answer");
    bind.start();
    await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50)).until(() -> resolved().equals(List.of("127.0.0.2")));
    await().atMost(Duration.ofSeconds(5)).until(() -> recorded(Event.Kinds.DNS_PROVIDER, "answers again"));
    assertThat(c.status().providerProblem()).isNull();
  }

  @Test
  void a_gateway_that_accepts_but_never_answers_is_switched_away_from_after_its_check_timeouts() {
    DnsController c = controller(new InMemoryLeaseStore(), "local");
    await().atMost(Duration.ofSeconds(5)).until(() -> "gateway-a".equals(c.status().currentGateway()));
    a.hang();
    await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20)).until(() -> resolved().equals(List.of("127.0.0.2")));
    assertThat(recorded(Event.Kinds.DNS_SWITCH, "no answer within 200 ms")).isTrue();
  }

  @Test
  void cloudflare_answering_500_and_429_is_retried_and_the_switch_completes() throws Exception {
    try (io.bulwark.testkit.FakeCloudflare cloudflare = new io.bulwark.testkit.FakeCloudflare("0123456789abcdef0123456789abcdef",
        LocalBind.ZONE)) {
      cloudflare.token("edit-token", true);
      cloudflare.add("A", LocalBind.NAME, "127.0.0.1", 60);
      CloudflareProvider provider = new CloudflareProvider(cloudflare.apiBase(), "0123456789abcdef0123456789abcdef", "edit-token",
          new DnsRecord(LocalBind.NAME, LocalBind.ZONE, DnsRecord.Type.A, Duration.ofSeconds(60)), false, Duration.ofSeconds(2));
      DnsController c = controller(new InMemoryLeaseStore(), "local", provider);
      await().atMost(Duration.ofSeconds(5)).until(() -> "gateway-a".equals(c.status().currentGateway()));
      cloudflare.failNext(8, 500);
      a.kill();
      await().atMost(Duration.ofSeconds(10)).until(() -> recorded(Event.Kinds.DNS_PROVIDER, "failed"));
      assertThat(cloudflare.content("A", LocalBind.NAME)).as("never half-changed").contains("127.0.0.1");
      cloudflare.failNext(2, 429);
      await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50))
          .until(() -> cloudflare.content("A", LocalBind.NAME).equals(java.util.Optional.of("127.0.0.2")));
      await().atMost(Duration.ofSeconds(5)).until(() -> recorded(Event.Kinds.DNS_PROVIDER, "answers again"));
      assertThat(c.status().lastChange().toGateway()).isEqualTo("gateway-b");
    }
  }

  @Test
  void planned_switches_through_the_admin_api() throws Exception {
    DnsController c = controller(new InMemoryLeaseStore(), "local");
    DnsAdmin admin = new DnsAdmin(c, metrics, 0);
    closing.add(admin);
    admin.start();
    await().atMost(Duration.ofSeconds(5)).until(() -> c.status().gateways().stream().allMatch(g -> g.health().equals("healthy")));
    b.noApiServer();
    await().atMost(Duration.ofSeconds(5)).until(() -> c.status().gateways().get(1).health().equals("down"));
    HttpResponse<String> refused = post(admin, "{\"gateway\":\"gateway-b\"}");
    assertThat(refused.statusCode()).isEqualTo(409);
    assertThat(refused.headers().firstValue("Content-Type")).contains("application/problem+json");
    assertThat(refused.body()).contains("--force");
    assertThat(resolved()).containsExactly("127.0.0.1");
    assertThat(post(admin, "{\"gateway\":\"gateway-z\"}").statusCode()).isEqualTo(404);
    assertThat(post(admin, "not json").statusCode()).isEqualTo(400);
    assertThat(HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin.port() + "/switch"))
        .header("Content-Type", "text/plain").POST(HttpRequest.BodyPublishers.ofString("{\"gateway\":\"gateway-b\",\"force\":true}")).build(),
        HttpResponse.BodyHandlers.discarding()).statusCode()).as("a cross-origin simple POST").isEqualTo(415);
    HttpResponse<String> forced = post(admin, "{\"gateway\":\"gateway-b\",\"force\":true}");
    assertThat(forced.statusCode()).isEqualTo(200);
    assertThat(forced.body()).contains("\"currentGateway\":\"gateway-b\"", "planned switch (forced)", "\"pinnedTo\":\"gateway-b\"");
    assertThat(resolved()).containsExactly("127.0.0.2");
    int failed = c.status().gateways().get(1).failedInARow();
    await().atMost(Duration.ofSeconds(5)).until(() -> c.status().gateways().get(1).failedInARow() >= failed + 3);
    assertThat(resolved()).as("a forced switch holds until its target passes its checks").containsExactly("127.0.0.2");
    b.healthy();
    await().atMost(Duration.ofSeconds(5)).until(() -> c.status().pinnedTo() == null);
    await().atMost(Duration.ofSeconds(5)).until(() -> c.status().gateways().get(1).health().equals("healthy"));
    assertThat(post(admin, "{\"gateway\":\"gateway-a\"}").statusCode()).isEqualTo(200);
    assertThat(resolved()).containsExactly("127.0.0.1");
    String scrape = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin.port() + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString()).body();
    assertThat(scrape).contains("bulwark_dns_switches_total 2", "bulwark_dns_gateway_healthy{gateway=\"gateway-b\"} 1");
  }

  static HttpResponse<String> post(DnsAdmin admin, String body) throws Exception {
    return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin.port() + "/switch"))
        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void of_two_controllers_on_etcd_only_the_lease_holder_acts() throws Exception {
    try (EtcdCluster etcd = EtcdCluster.start(1);
        EtcdClusterState s1 = new EtcdClusterState(etcd.endpoints(), "/bulwark/dns-test", Duration.ofSeconds(2));
        EtcdClusterState s2 = new EtcdClusterState(etcd.endpoints(), "/bulwark/dns-test", Duration.ofSeconds(2))) {
      DnsController first = controller(s1.leases(Duration.ofSeconds(1)), "node-1");
      await().atMost(Duration.ofSeconds(5)).until(() -> first.status().leader());
      DnsController second = controller(s2.leases(Duration.ofSeconds(1)), "node-2");
      await().atMost(Duration.ofSeconds(5)).until(() -> second.status().gateways().get(0).health().equals("healthy"));
      assertThat(second.status().leader()).isFalse();
      assertThatThrownBy(() -> second.switchTo("gateway-b", false).get()).isInstanceOf(ExecutionException.class)
          .hasCauseInstanceOf(DnsController.NotLeaderException.class).hasMessageContaining("held by node-1");
      first.close(); // releases the lease: the other acts without waiting for the ttl
      await().atMost(Duration.ofSeconds(5)).until(() -> second.status().leader());
      a.kill();
      await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20)).until(() -> resolved().equals(List.of("127.0.0.2")));
      assertThat(recorded(Event.Kinds.DNS_LEADER, "node-2 holds dns/leader")).isTrue();
      closing.clear();
      second.close();
    }
  }
}
