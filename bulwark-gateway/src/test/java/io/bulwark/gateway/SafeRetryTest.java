package io.bulwark.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/**
 * A request is replayed on another server only when that cannot do harm: it never left the gateway,
 * or it is a GET/HEAD, or it carries an Idempotency-Key. Never twice, never after the answer began.
 */
class SafeRetryTest {
  GatewayFixture fx;

  @AfterEach
  void stop() {
    if (fx != null) fx.close();
  }

  /** Repeated: whether a request "left" is a race with the server closing the connection. */
  @RepeatedTest(10)
  void a_post_without_idempotency_key_is_not_replayed_when_the_server_dies_after_receiving_it() {
    fx = GatewayFixture.mainAndBackup();
    fx.main().dieOnRequests(true);

    GatewayFixture.Resp r = fx.post("/v1/tasks", "{\"type\":\"noop\"}");

    assertThat(r.status()).isEqualTo(502);
    assertThat(r.header("Content-Type")).isEqualTo("application/problem+json");
    assertThat(r.body()).contains("\"type\":\"https://bulwark.dev/problems/bad-gateway\"", "\"status\":502",
        "\"instance\":\"/v1/tasks\"", "not replayed", "Idempotency-Key");
    assertThat(fx.main().requests).as("the dying server saw it exactly once").hasValue(1);
    assertThat(fx.backup().requests).as("and it was not replayed").hasValue(0);
    assertThat(fx.gateway.server("api-main").health()).as("a broken connection marks the server down").isEqualTo(Health.DOWN);
  }

  @Test
  void a_post_with_idempotency_key_is_retried_once_on_the_other_server_and_succeeds() {
    fx = GatewayFixture.mainAndBackup();
    fx.main().dieOnRequests(true);

    GatewayFixture.Resp r = fx.post("/v1/tasks", "{\"type\":\"noop\"}", "Idempotency-Key", "k-1");

    assertThat(r.status()).isEqualTo(200);
    assertThat(r.backend()).isEqualTo("api-backup");
    assertThat(r.body()).isEqualTo("{\"type\":\"noop\"}");
    assertThat(fx.main().requests).hasValue(1);
    assertThat(fx.backup().requests).hasValue(1);
    assertThat(fx.backup().received.peek().header("Idempotency-Key")).isEqualTo("k-1");
    assertThat(fx.metrics.scrape()).contains("bulwark_gateway_backend_retries_total{backend=\"api-main\"} 1");
  }

  @Test
  void a_get_is_retried_on_the_other_server_when_the_connection_breaks() {
    fx = GatewayFixture.mainAndBackup();
    fx.main().dieOnRequests(true);

    GatewayFixture.Resp r = fx.get("/v1/tasks/t1?wait=0");

    assertThat(r.status()).isEqualTo(200);
    assertThat(r.backend()).isEqualTo("api-backup");
    assertThat(fx.main().requests).hasValue(1);
    assertThat(fx.backup().receivedList()).extracting(FakeBackend.Received::pathQuery).containsExactly("/v1/tasks/t1?wait=0");
  }

  @Test
  void a_post_without_idempotency_key_is_retried_when_the_connection_was_refused_because_it_never_left() {
    fx = GatewayFixture.mainAndBackup();
    fx.main().stop();

    GatewayFixture.Resp r = fx.post("/v1/tasks", "{\"type\":\"noop\"}");

    assertThat(r.status()).isEqualTo(200);
    assertThat(r.backend()).isEqualTo("api-backup");
    assertThat(fx.backup().requests).hasValue(1);
  }

  @RepeatedTest(10)
  void a_request_is_retried_only_once_and_then_gets_a_problem() {
    fx = GatewayFixture.mainAndBackup();
    fx.main().dieOnRequests(true);
    fx.backup().dieOnRequests(true);

    GatewayFixture.Resp r = fx.get("/ping");

    assertThat(r.status()).isEqualTo(502);
    assertThat(r.body()).contains("the retry failed too");
    assertThat(fx.main().requests).hasValue(1);
    assertThat(fx.backup().requests).hasValue(1);
  }

  @Test
  void a_refused_connection_with_no_other_server_answers_503_with_retry_after() {
    fx = GatewayFixture.mainAndBackup();
    fx.gateway.setState("api-backup", ServerState.MAINT);
    fx.main().stop();

    GatewayFixture.Resp r = fx.post("/v1/tasks", "{}");

    assertThat(r.status()).isEqualTo(503);
    assertThat(r.header("Retry-After")).isEqualTo("1");
    assertThat(r.body()).contains("no-server-available", "safe to try again");
  }

  @Test
  void a_server_error_answer_is_passed_through_and_not_retried() {
    fx = GatewayFixture.mainAndBackup();

    GatewayFixture.Resp r = fx.get("/status?code=500");

    assertThat(r.status()).isEqualTo(500);
    assertThat(r.backend()).isEqualTo("api-main");
    assertThat(fx.backup().requests).hasValue(0);
    assertThat(fx.gateway.server("api-main").health()).as("a 5xx answer is not a broken connection").isEqualTo(Health.UP);
    assertThat(fx.metrics.scrape()).contains("bulwark_gateway_backend_errors_total{backend=\"api-main\",kind=\"5xx\"} 1");
  }

  @Test
  void a_server_slower_than_the_upstream_timeout_gets_504_without_a_retry() {
    fx = GatewayFixture.mainAndBackup(c -> c.withUpstreamTimeouts(Duration.ofMillis(200), Duration.ofMillis(500)));

    long start = System.nanoTime();
    GatewayFixture.Resp r = fx.get("/slow?ms=3000");
    long millis = (System.nanoTime() - start) / 1_000_000;

    assertThat(r.status()).isEqualTo(504);
    assertThat(r.body()).contains("gateway-timeout", "500 ms");
    assertThat(millis).isBetween(450L, 2000L);
    assertThat(fx.backup().requests).hasValue(0);
    assertThat(fx.gateway.server("api-main").health()).as("slow is not dead").isEqualTo(Health.UP);
  }

  @Test
  void a_long_poll_outlasting_the_client_idle_timeout_still_gets_its_answer() {
    fx = GatewayFixture.mainAndBackup(c -> c.withClientTimeouts(Duration.ofMillis(300), Duration.ofSeconds(5)));

    GatewayFixture.Resp r = fx.get("/slow?ms=1000");

    assertThat(r.status()).isEqualTo(200);
    assertThat(r.body()).isEqualTo("slow api-main");
  }
}
