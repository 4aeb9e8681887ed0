package io.bulwark.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.bulwark.api.ApiFixture.Resp;
import io.bulwark.api.ApiFixture.Tenant;
import io.bulwark.core.BulwarkException;
import io.bulwark.testkit.PostgresExtension;
import io.bulwark.testkit.TestDatabase;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** A tenant at its bounds on one API server gets 429 with Retry-After; other tenants do not notice. */
@ExtendWith(PostgresExtension.class)
class TenantLimitsTest {
  private static final String LATER = "\"runAt\":\"2099-01-01T00:00:00Z\"";
  static final int IN_FLIGHT = 4;
  static final int LONG_POLLS = 3;

  @TempDir static Path blobDir;
  static ApiFixture fx;
  static TestDatabase testDb;

  @BeforeAll
  static void start(TestDatabase db) {
    testDb = db;
    fx = ApiFixture.start(db, blobDir, ApiConfig.defaults("api-limits", 0).withTenantLimits(new TenantLimits(IN_FLIGHT, LONG_POLLS, 0)));
  }

  @AfterAll
  static void stop() {
    if (fx != null) fx.close();
  }

  static String queued(Tenant t) {
    return fx.submit(t, "{\"type\":\"noop\"," + LATER + "}").path("id").asText();
  }

  static List<CompletableFuture<Resp>> longPolls(Tenant t, String id, int n) {
    List<CompletableFuture<Resp>> polls = new ArrayList<>();
    for (int i = 0; i < n; i++) polls.add(fx.get("/v1/tasks/" + id + "?wait=5", t).sendAsync());
    return polls;
  }

  /** Waits until the tenant's long polls hold their places (a poll takes its long-poll place after its request place). */
  static void awaitLongPolls(Tenant t, int polls) {
    await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20))
        .until(() -> fx.server.routes().tenantGate().held(t.name())[1] == polls);
  }

  @Test
  void long_polls_past_the_bound_get_429_with_retry_after_and_another_tenant_is_not_affected() {
    Tenant hog = fx.newTenant();
    Tenant other = fx.newTenant();
    String id = queued(hog);
    List<CompletableFuture<Resp>> polls = longPolls(hog, id, LONG_POLLS);
    awaitLongPolls(hog, LONG_POLLS);

    Resp refused = fx.get("/v1/tasks/" + id + "?wait=5", hog).send();
    assertThat(refused.status()).as("%s", refused).isEqualTo(429);
    assertThat(refused.contentType()).startsWith("application/problem+json");
    assertThat(refused.header("Retry-After")).isEqualTo(Integer.toString(TenantLimits.LONG_POLL_RETRY_AFTER_SECONDS));
    assertThat(refused.text()).contains("long polls waiting");
    // a read without waiting is still fine: one place in progress is left
    assertThat(fx.get("/v1/tasks/" + id, hog).send().status()).isEqualTo(200);

    // the other tenant polls and submits as if nothing were happening
    String mine = queued(other);
    List<CompletableFuture<Resp>> theirs = longPolls(other, mine, LONG_POLLS);
    awaitLongPolls(other, LONG_POLLS);
    theirs.forEach(f -> assertThat(f.isDone()).isFalse());

    // the polls end (their wait is up): the hog may poll again
    polls.forEach(f -> assertThat(f.join().status()).isEqualTo(200));
    theirs.forEach(f -> assertThat(f.join().status()).isEqualTo(200));
    awaitLongPolls(hog, 0);
    assertThat(fx.get("/v1/tasks/" + id + "?wait=1", hog).send().status()).isEqualTo(200);
  }

  @Test
  void requests_in_progress_past_the_bound_get_429_and_the_places_are_given_back() {
    // a server whose bound on requests in progress is reached by long polls alone
    try (ApiFixture tight = ApiFixture.start(testDb, blobDir, ApiConfig.defaults("api-tight", 0).withTenantLimits(new TenantLimits(2, 2, 0)))) {
      Tenant hog = tight.newTenant();
      Tenant other = tight.newTenant();
      String id = tight.submit(hog, "{\"type\":\"noop\"," + LATER + "}").path("id").asText();
      List<CompletableFuture<Resp>> polls = new ArrayList<>();
      for (int i = 0; i < 2; i++) polls.add(tight.get("/v1/tasks/" + id + "?wait=3", hog).sendAsync());
      await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20))
          .until(() -> tight.server.routes().tenantGate().held(hog.name())[0] == 2);

      Resp refused = tight.post("/v1/tasks", hog).json("{\"type\":\"noop\"}").send();
      assertThat(refused.status()).as("%s", refused).isEqualTo(429);
      assertThat(refused.header("Retry-After")).isEqualTo("1");
      assertThat(refused.text()).contains("requests in progress");
      assertThat(tight.post("/v1/tasks", other).json("{\"type\":\"noop\"}").send().status()).as("another tenant").isEqualTo(202);

      polls.forEach(f -> assertThat(f.join().status()).isEqualTo(200));
      // a place is given back just after the response is written: a client can read it a moment before
      await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20))
          .until(() -> tight.server.routes().tenantGate().held(hog.name())[0] == 0);
      assertThat(tight.post("/v1/tasks", hog).json("{\"type\":\"noop\"}").send().status()).as("places given back").isEqualTo(202);
    }
  }

  @Test
  void bounds_that_make_no_sense_are_refused() {
    assertThatThrownBy(() -> new TenantLimits(0, 0, 0)).isInstanceOf(BulwarkException.class).hasMessageContaining("at least 1");
    assertThatThrownBy(() -> new TenantLimits(4, 5, 0)).isInstanceOf(BulwarkException.class).hasMessageContaining("long polls per tenant");
    assertThatThrownBy(() -> new TenantLimits(4, 4, -1)).isInstanceOf(BulwarkException.class).hasMessageContaining("0 (no limit)");
  }

  @Test
  void a_rate_holds_one_second_of_requests_and_refills_continuously() {
    long[] now = {0};
    TenantLimits.Gate gate = new TenantLimits.Gate(new TenantLimits(100, 10, 10), new io.bulwark.core.metrics.Metrics(), () -> now[0]);
    for (int i = 0; i < 10; i++) gate.request("t").close(); // a burst of one second's worth
    assertThatThrownBy(() -> gate.request("t")).isInstanceOfSatisfying(ApiProblem.class, p -> {
      assertThat(p.status()).isEqualTo(429);
      assertThat(p.getMessage()).contains("10 requests per second").contains("retry after 100 ms");
    });
    gate.request("u").close(); // another tenant has its own bucket
    now[0] += 100_000_000L; // 100 ms: one request's worth
    gate.request("t").close();
    assertThatThrownBy(() -> gate.request("t")).isInstanceOf(ApiProblem.class);
    now[0] += 10_000_000_000L; // idle for 10 s: the bucket holds one second, no more
    for (int i = 0; i < 10; i++) gate.request("t").close();
    assertThatThrownBy(() -> gate.request("t")).isInstanceOf(ApiProblem.class);
  }

  @Test
  void a_tenant_over_its_rate_gets_429_over_http_and_another_tenant_does_not() {
    try (ApiFixture rated = ApiFixture.start(testDb, blobDir, ApiConfig.defaults("api-rated", 0).withTenantLimits(new TenantLimits(64, 8, 5)))) {
      Tenant hog = rated.newTenant();
      Tenant other = rated.newTenant();
      int ok = 0;
      Resp refused = null;
      for (int i = 0; i < 20 && refused == null; i++) {
        Resp r = rated.get("/v1/usage", hog).send();
        if (r.status() == 429) refused = r;
        else ok++;
      }
      assertThat(refused).as("refused within 20 quick requests at 5/s").isNotNull();
      assertThat(ok).as("a second's worth first").isBetween(5, 7);
      assertThat(refused.header("Retry-After")).isEqualTo("1");
      assertThat(refused.text()).contains("5 requests per second");
      assertThat(rated.get("/v1/usage", other).send().status()).as("another tenant").isEqualTo(200);
    }
  }
}
