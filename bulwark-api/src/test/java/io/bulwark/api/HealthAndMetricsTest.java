package io.bulwark.api;

import static io.bulwark.api.ApiFixture.assertProblem;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.bulwark.api.ApiFixture.Resp;
import io.bulwark.api.ApiFixture.Tenant;
import io.bulwark.testkit.PostgresExtension;
import io.bulwark.testkit.TestDatabase;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** /health/live, /health/ready (also while draining) and /metrics. */
@ExtendWith(PostgresExtension.class)
class HealthAndMetricsTest {
  @TempDir static Path blobDir;
  static TestDatabase testDb;
  static ApiFixture fx;

  @BeforeAll
  static void start(TestDatabase db) {
    testDb = db;
    fx = ApiFixture.start(db, blobDir);
  }

  @AfterAll
  static void stop() {
    if (fx != null) fx.close();
  }

  @Test
  void liveness_and_readiness_answer_200_without_a_key() {
    Resp live = fx.call("GET", "/health/live").send();
    Resp ready = fx.call("GET", "/health/ready").send();

    assertThat(live.status()).isEqualTo(200);
    assertThat(live.json().path("status").asText()).isEqualTo("up");
    assertThat(ready.status()).isEqualTo(200);
    assertThat(ready.json().path("status").asText()).isEqualTo("ready");
  }

  @Test
  void metrics_are_prometheus_text_with_request_counts_and_the_ready_queue_depth() {
    Tenant t = fx.newTenant();
    for (int i = 0; i < 3; i++) fx.submit(t, "{\"type\":\"noop\"}"); // no worker here: they stay ready
    assertThat(fx.get("/v1/tasks", t).send().status()).isEqualTo(200);

    Resp r = fx.call("GET", "/metrics").send();

    assertThat(r.status()).isEqualTo(200);
    assertThat(r.contentType()).startsWith("text/plain");
    assertThat(r.text())
        .contains("# TYPE bulwark_http_requests_total counter")
        .contains("bulwark_http_requests_total{route=\"tasks.list\",status=\"2xx\"}")
        .contains("bulwark_http_requests_total{route=\"tasks.submit\",status=\"2xx\"} 3")
        .contains("# TYPE bulwark_queue_ready_tasks gauge");
    Pattern ready = Pattern.compile("(?m)^bulwark_queue_ready_tasks (\\S+)$");
    await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(200)).untilAsserted(() -> {
      Matcher m = ready.matcher(fx.call("GET", "/metrics").send().text());
      assertThat(m.find()).isTrue();
      assertThat(Double.parseDouble(m.group(1))).isEqualTo(3.0);
    });
  }

  @Test
  void a_draining_server_answers_503_to_readiness_but_stays_live_and_serves_requests_in_flight() {
    Path dir = blobDir.resolve("draining");
    try (ApiFixture draining = ApiFixture.start(testDb, dir, ApiConfig.defaults("api-draining", 0))) {
      assertThat(draining.call("GET", "/health/ready").send().status()).isEqualTo(200);

      draining.server.drain();

      Resp ready = draining.call("GET", "/health/ready").send();
      assertProblem(ready, 503);
      assertThat(ready.header("Retry-After")).isNotBlank();
      assertThat(draining.call("GET", "/health/live").send().status()).isEqualTo(200);
      Tenant t = draining.newTenant();
      assertThat(draining.get("/v1/tasks", t).send().status()).isEqualTo(200);
    }
  }

  @Test
  void metrics_through_a_load_balancer_need_an_admin_key() {
    // regression: /metrics answered anyone through the gateway, with every tenant's activity
    Tenant tenant = fx.newTenant();
    Resp anonymous = fx.call("GET", "/metrics").header("X-Forwarded-For", "203.0.113.7").send();
    assertThat(anonymous.status()).isEqualTo(401);
    Resp asTenant = fx.call("GET", "/metrics").header("X-Forwarded-For", "203.0.113.7").auth(tenant).send();
    assertThat(asTenant.status()).isEqualTo(403);
    assertThat(asTenant.text()).contains("admin key");
    Resp asAdmin = fx.call("GET", "/metrics").header("X-Forwarded-For", "203.0.113.7").auth(fx.admin).send();
    assertThat(asAdmin.status()).isEqualTo(200);
    assertThat(asAdmin.text()).contains("bulwark_http_requests_total");
  }
}
