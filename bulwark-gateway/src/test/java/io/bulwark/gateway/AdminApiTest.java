package io.bulwark.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The admin API on its own loopback port: servers, state changes, health, metrics. */
class AdminApiTest {
  static final ObjectMapper JSON = new ObjectMapper();
  GatewayFixture fx;

  @BeforeEach
  void start() {
    fx = GatewayFixture.mainAndBackup();
  }

  @AfterEach
  void stop() {
    fx.main().releaseHeld();
    fx.close();
  }

  JsonNode json(GatewayFixture.Resp r) throws Exception {
    return JSON.readTree(r.body());
  }

  @Test
  void get_servers_lists_every_server_with_its_state_health_and_load() throws Exception {
    GatewayFixture.Resp r = fx.admin("GET", "/servers", null);
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.header("Content-Type")).isEqualTo("application/json");
    JsonNode servers = json(r);
    assertThat(servers).hasSize(2);
    JsonNode main = servers.get(0);
    assertThat(main.get("name").asText()).isEqualTo("api-main");
    assertThat(main.get("url").asText()).isEqualTo(fx.main().url());
    assertThat(main.get("backup").asBoolean()).isFalse();
    assertThat(main.get("state").asText()).isEqualTo("ready");
    assertThat(main.get("health").asText()).isEqualTo("up");
    assertThat(main.get("inFlight").asInt()).isZero();
    assertThat(main.get("checks").get("passed").asLong()).isPositive();
    assertThat(main.get("checks").get("last").asText()).isEqualTo("passed");
    assertThat(servers.get(1).get("backup").asBoolean()).isTrue();
  }

  @Test
  void post_state_drains_puts_in_maintenance_and_readies_a_server_in_plain_text_or_json() throws Exception {
    CompletableFuture<GatewayFixture.Resp> slow = CompletableFuture.supplyAsync(() -> fx.get("/hold"));
    Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> fx.main().holding() == 1);

    GatewayFixture.Resp drained = fx.admin("POST", "/servers/api-main/state", "drain");
    assertThat(drained.status()).isEqualTo(200);
    assertThat(json(drained).get("state").asText()).isEqualTo("drain");
    assertThat(json(drained).get("inFlight").asInt()).isEqualTo(1);
    assertThat(fx.get("/ping").backend()).isEqualTo("api-backup");
    fx.main().releaseHeld();
    assertThat(slow.join().status()).isEqualTo(200);

    GatewayFixture.Resp maint = fx.admin("POST", "/servers/api-main/state", "{\"state\": \"maint\"}");
    assertThat(json(maint).get("state").asText()).isEqualTo("maint");
    assertThat(fx.get("/ping").backend()).isEqualTo("api-backup");

    GatewayFixture.Resp ready = fx.admin("POST", "/servers/api-main/state", "READY\n");
    assertThat(json(ready).get("state").asText()).isEqualTo("ready");
    assertThat(fx.get("/ping").backend()).isEqualTo("api-main");
    assertThat(json(fx.admin("GET", "/servers/api-main", null)).get("requests").asLong()).isEqualTo(2);
  }

  @Test
  void bad_admin_requests_get_problems() throws Exception {
    GatewayFixture.Resp unknown = fx.admin("POST", "/servers/api-nope/state", "drain");
    assertThat(unknown.status()).isEqualTo(404);
    assertThat(unknown.header("Content-Type")).isEqualTo("application/problem+json");
    assertThat(json(unknown).get("type").asText()).isEqualTo("https://bulwark.dev/problems/unknown-server");
    assertThat(json(unknown).get("detail").asText()).contains("api-main, api-backup");

    GatewayFixture.Resp badState = fx.admin("POST", "/servers/api-main/state", "sleep");
    assertThat(badState.status()).isEqualTo(400);
    assertThat(json(badState).get("detail").asText()).isEqualTo("server state must be ready, drain or maint, got 'sleep'");
    assertThat(fx.gateway.server("api-main").state()).isEqualTo(ServerState.READY);

    GatewayFixture.Resp wrongMethod = fx.admin("GET", "/servers/api-main/state", null);
    assertThat(wrongMethod.status()).isEqualTo(405);
    assertThat(wrongMethod.header("Allow")).isEqualTo("POST");

    assertThat(fx.admin("GET", "/nothing", null).status()).isEqualTo(404);
  }

  @Test
  void put_adds_a_server_in_service_after_one_check_and_delete_takes_it_out_while_requests_flow() throws Exception {
    FakeBackend third = FakeBackend.start("api-third");
    try {
      GatewayFixture.Resp added = fx.admin("PUT", "/servers/api-third", "{\"url\":\"" + third.url() + "\"}");
      assertThat(added.status()).isEqualTo(200);
      assertThat(json(added).get("url").asText()).isEqualTo(third.url());
      Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> fx.gateway.server("api-third").usable());
      fx.gateway.setState("api-main", ServerState.MAINT); // the new server is the only ready primary now
      assertThat(fx.get("/ping").backend()).isEqualTo("api-third");
      // adding it again changes nothing; with another url it is refused
      assertThat(fx.admin("PUT", "/servers/api-third", "{\"url\":\"" + third.url() + "\"}").status()).isEqualTo(200);
      GatewayFixture.Resp clash = fx.admin("PUT", "/servers/api-third", "{\"url\":\"http://127.0.0.1:1\"}");
      assertThat(clash.status()).isEqualTo(409);
      assertThat(fx.admin("PUT", "/servers/api-fourth", "{\"address\":\"x\"}").status()).isEqualTo(400);

      assertThat(fx.admin("DELETE", "/servers/api-third", null).status()).isEqualTo(200);
      assertThat(fx.get("/ping").backend()).as("only the backup is left ready").isEqualTo("api-backup");
      assertThat(fx.admin("GET", "/servers/api-third", null).status()).isEqualTo(404);
      // the last primary server stays
      GatewayFixture.Resp last = fx.admin("DELETE", "/servers/api-main", null);
      assertThat(last.status()).isEqualTo(409);
      assertThat(json(last).get("detail").asText()).contains("only primary server");
    } finally {
      third.stop();
    }
  }

  @Test
  void health_endpoints_tell_whether_the_gateway_runs_and_can_serve() throws Exception {
    assertThat(fx.admin("GET", "/health/live", null).status()).isEqualTo(200);
    assertThat(fx.admin("GET", "/health/ready", null).status()).isEqualTo(200);
    fx.gateway.setState("api-main", ServerState.MAINT);
    fx.gateway.setState("api-backup", ServerState.MAINT);
    assertThat(fx.admin("GET", "/health/ready", null).status()).isEqualTo(503);
    assertThat(fx.admin("GET", "/health/live", null).status()).isEqualTo(200);
  }

  @Test
  void the_metrics_scrape_has_the_per_server_series() {
    fx.get("/ping");
    fx.get("/status?code=503");
    fx.backup().stop();
    Awaitility.await().atMost(Duration.ofSeconds(3)).until(() -> fx.gateway.server("api-backup").health() == Health.DOWN);

    GatewayFixture.Resp r = fx.admin("GET", "/metrics", null);
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.header("Content-Type")).startsWith("text/plain; version=0.0.4");
    assertThat(r.body()).contains(
        "bulwark_gateway_requests_total{class=\"2xx\"} 1",
        "bulwark_gateway_requests_total{class=\"5xx\"} 1",
        "bulwark_gateway_request_seconds_count 2",
        "bulwark_gateway_backend_requests_total{backend=\"api-main\"} 2",
        "bulwark_gateway_backend_requests_total{backend=\"api-backup\"} 0",
        "bulwark_gateway_backend_errors_total{backend=\"api-main\",kind=\"5xx\"} 1",
        "bulwark_gateway_backend_errors_total{backend=\"api-main\",kind=\"connect\"} 0",
        "bulwark_gateway_backend_errors_total{backend=\"api-main\",kind=\"reset\"} 0",
        "bulwark_gateway_backend_errors_total{backend=\"api-main\",kind=\"timeout\"} 0",
        "bulwark_gateway_backend_retries_total{backend=\"api-main\"} 0",
        "bulwark_gateway_backend_health_changes_total{backend=\"api-main\",to=\"up\"} 1",
        "bulwark_gateway_backend_health_changes_total{backend=\"api-backup\",to=\"down\"} 1",
        "bulwark_gateway_backend_up{backend=\"api-main\"} 1",
        "bulwark_gateway_backend_up{backend=\"api-backup\"} 0",
        "bulwark_gateway_backend_state{backend=\"api-main\",state=\"ready\"} 1",
        "bulwark_gateway_backend_state{backend=\"api-main\",state=\"drain\"} 0",
        "bulwark_gateway_backend_in_flight{backend=\"api-main\"} 0",
        "bulwark_gateway_backend_check_seconds_count{backend=\"api-main\"}");
  }
}
