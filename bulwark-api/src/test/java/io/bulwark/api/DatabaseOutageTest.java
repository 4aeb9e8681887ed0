package io.bulwark.api;

import io.bulwark.testkit.TcpProxy;

import static io.bulwark.api.ApiFixture.assertProblem;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.bulwark.api.ApiFixture.Resp;
import io.bulwark.api.ApiFixture.Tenant;
import io.bulwark.core.auth.ApiKey;
import io.bulwark.testkit.PostgresExtension;
import io.bulwark.testkit.TestDatabase;
import io.bulwark.postgres.Database;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Without its database the API answers 503 with Retry-After, quickly, and never 500. */
@ExtendWith(PostgresExtension.class)
class DatabaseOutageTest {
  private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(1);
  /** What "quickly" means: the pool's connect timeout plus slack for a loaded machine. */
  private static final Duration PROMPTLY = CONNECT_TIMEOUT.plusSeconds(3);

  @TempDir static Path blobDir;
  static TestDatabase testDb;
  static Database direct;

  @BeforeAll
  static void start(TestDatabase db) {
    testDb = db;
    direct = ApiFixture.open(db.jdbcUrl(), db);
    direct.migrate();
  }

  @AfterAll
  static void stop() {
    if (direct != null) direct.close();
  }

  private static Resp timed(ApiFixture.Call call) {
    long t0 = System.nanoTime();
    Resp r = call.send();
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("answer time of %s", r).isLessThan(PROMPTLY);
    return r;
  }

  private static void assertUnavailable(Resp r) {
    JsonNode p = assertProblem(r, 503);
    assertThat(p.path("type").asText()).endsWith("/unavailable");
    assertThat(r.header("Retry-After")).as("Retry-After of %s", r).matches("[1-9][0-9]*");
  }

  @Test
  void a_server_whose_database_is_unreachable_answers_503_with_Retry_After_promptly() throws IOException {
    int deadPort;
    try (ServerSocket s = new ServerSocket(0)) {
      deadPort = s.getLocalPort();
    }
    String url = "jdbc:postgresql://127.0.0.1:" + deadPort + "/" + testDb.name();
    try (ApiFixture fx = ApiFixture.startUnmigrated(testDb, url, blobDir.resolve("dead"),
        ApiConfig.defaults("api-nodb", 0), CONNECT_TIMEOUT)) {
      String key = "Bearer " + ApiKey.generate().token();

      assertUnavailable(timed(fx.call("POST", "/v1/tasks").header("Authorization", key).json("{\"type\":\"noop\"}")));
      assertUnavailable(timed(fx.call("GET", "/v1/tasks").header("Authorization", key)));
      assertUnavailable(timed(fx.call("GET", "/health/ready")));
      assertThat(timed(fx.call("GET", "/health/live")).status()).isEqualTo(200);
      assertThat(timed(fx.call("GET", "/metrics")).status()).isEqualTo(200);
      // a malformed key needs no database: still a 401
      assertProblem(timed(fx.call("GET", "/v1/tasks").header("Authorization", "Bearer nope")), 401);
    }
  }

  @Test
  void when_the_database_goes_away_requests_get_503_nothing_is_stored_and_a_retry_with_the_same_key_succeeds_after()
      throws IOException {
    URI pg = URI.create(testDb.jdbcUrl().substring("jdbc:".length()));
    try (TcpProxy proxy = new TcpProxy(pg.getHost(), pg.getPort())) {
      String url = "jdbc:postgresql://127.0.0.1:" + proxy.port() + "/" + testDb.name();
      ApiConfig config = new ApiConfig("api-outage", "127.0.0.1", 0, ApiConfig.DEFAULT_MAX_BODY_BYTES,
          Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofSeconds(10), TenantLimits.DEFAULTS);
      Tenant t = ApiFixture.createKey(direct, "outage-" + UUID.randomUUID().toString().substring(0, 8), false);
      try (ApiFixture fx = ApiFixture.startUnmigrated(testDb, url, blobDir.resolve("outage"), config, CONNECT_TIMEOUT)) {
        assertThat(fx.get("/v1/tasks", t).send().status()).isEqualTo(200); // key cached, pool warm
        String idempotencyKey = UUID.randomUUID().toString();
        String task = "{\"type\":\"noop\",\"runAt\":\"2099-01-01T00:00:00Z\"}";

        proxy.cut();

        assertUnavailable(timed(fx.post("/v1/tasks", t).header("Idempotency-Key", idempotencyKey).json(task)));
        assertUnavailable(timed(fx.post("/v1/tasks/batch", t).json("{\"tasks\":[" + task + "]}")));
        assertUnavailable(timed(fx.get("/v1/tasks", t)));
        assertUnavailable(timed(fx.call("GET", "/health/ready")));
        assertThat(ApiFixture.count(direct, "SELECT count(*) FROM tasks WHERE tenant = ?", t.name())).isZero();

        proxy.restore();

        Resp[] created = new Resp[1];
        await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(200)).untilAsserted(() -> {
          Resp r = fx.post("/v1/tasks", t).header("Idempotency-Key", idempotencyKey).json(task).send();
          assertThat(r.status()).as("%s", r).isIn(202, 503);
          if (r.status() == 503) assertUnavailable(r);
          assertThat(r.status()).isEqualTo(202);
          created[0] = r;
        });
        Resp replay = fx.post("/v1/tasks", t).header("Idempotency-Key", idempotencyKey).json(task).send();
        assertThat(replay.status()).isEqualTo(200);
        assertThat(replay.json().path("id").asText()).isEqualTo(created[0].json().path("id").asText());
        assertThat(ApiFixture.count(direct, "SELECT count(*) FROM tasks WHERE tenant = ?", t.name())).isEqualTo(1);
        await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(200))
            .until(() -> fx.call("GET", "/health/ready").send().status() == 200);
      }
    }
  }
}
