package io.bulwark.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.bulwark.api.ApiFixture.Resp;
import io.bulwark.api.ApiFixture.Tenant;
import io.bulwark.testkit.PostgresExtension;
import io.bulwark.testkit.TestDatabase;
import io.bulwark.postgres.UsageRepository;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** GET /v1/usage, and the in-memory counting behind it. */
@ExtendWith(PostgresExtension.class)
class UsageTest {
  @TempDir static Path blobDir;
  static ApiFixture fx;

  @BeforeAll
  static void start(TestDatabase db) {
    fx = ApiFixture.start(db, blobDir);
  }

  @AfterAll
  static void stop() {
    if (fx != null) fx.close();
  }

  private static long storedRequests(Tenant t) {
    return fx.count("SELECT coalesce(sum(requests), 0) FROM usage_minutes WHERE tenant = ?", t.name());
  }

  /** Waits until the tenant's flushed request count is {@code n} and stays so for more than a flush interval. */
  private static void awaitFlushed(Tenant t, long n) {
    await().atMost(Duration.ofSeconds(8)).during(Duration.ofMillis(1500)).pollInterval(Duration.ofMillis(100))
        .untilAsserted(() -> assertThat(storedRequests(t)).as("requests of %s flushed", t.name()).isEqualTo(n));
  }

  private static long post(Tenant t, String path, String body) {
    Resp r = fx.post(path, t).json(body).send();
    assertThat(r.status()).as("%s", r).isEqualTo(202);
    return body.getBytes(StandardCharsets.UTF_8).length;
  }

  @Test
  void usage_counts_the_callers_requests_submitted_tasks_and_bytes_in_and_nothing_of_other_tenants() {
    Tenant a = fx.newTenant();
    Tenant b = fx.newTenant();
    long bytesA = 0;
    bytesA += post(a, "/v1/tasks", "{\"type\":\"noop\"}");
    bytesA += post(a, "/v1/tasks", "{\"type\":\"echo\",\"input\":\"some input\"}");
    bytesA += post(a, "/v1/tasks", "{\"type\":\"noop\",\"priority\":3}");
    bytesA += post(a, "/v1/tasks/batch", "{\"tasks\":[{\"type\":\"noop\"},{\"type\":\"noop\"},{\"type\":\"noop\"}]}");
    assertThat(fx.get("/v1/tasks", a).send().status()).isEqualTo(200);
    long bytesB = post(b, "/v1/tasks", "{\"type\":\"echo\",\"input\":\"" + "b".repeat(1000) + "\"}");

    awaitFlushed(a, 5);
    awaitFlushed(b, 1);
    Resp ra = fx.get("/v1/usage", a).send();
    Resp rb = fx.get("/v1/usage", b).send();

    assertThat(ra.status()).isEqualTo(200);
    JsonNode ua = ra.json();
    assertThat(ua.path("tenant").asText()).isEqualTo(a.name());
    assertThat(ua.path("totals").path("requests").asLong()).isEqualTo(5);
    assertThat(ua.path("totals").path("tasksSubmitted").asLong()).isEqualTo(6);
    assertThat(ua.path("totals").path("bytesIn").asLong()).isEqualTo(bytesA);
    long minuteRequests = 0;
    for (JsonNode m : ua.path("minutes")) minuteRequests += m.path("requests").asLong();
    assertThat(minuteRequests).isEqualTo(5);

    JsonNode ub = rb.json();
    assertThat(ub.path("tenant").asText()).isEqualTo(b.name());
    assertThat(ub.path("totals").path("requests").asLong()).isEqualTo(1);
    assertThat(ub.path("totals").path("tasksSubmitted").asLong()).isEqualTo(1);
    assertThat(ub.path("totals").path("bytesIn").asLong()).isEqualTo(bytesB);
  }

  @Test
  void usage_counted_while_flushes_run_concurrently_is_never_lost() throws Exception {
    UsageRecorder recorder = new UsageRecorder(new UsageRepository(fx.db));
    String tenant = "usage-race";
    int threads = 4;
    int perThread = 300_000;
    AtomicBoolean recording = new AtomicBoolean(true);
    Thread flusher = Thread.ofPlatform().start(() -> {
      while (recording.get()) recorder.flush();
    });
    List<Thread> recorders = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      recorders.add(Thread.ofPlatform().start(() -> {
        for (int n = 0; n < perThread; n++) {
          recorder.record(tenant, 2, 3);
          recorder.submitted(tenant, 1, 5);
        }
      }));
    }
    for (Thread r : recorders) r.join();
    recording.set(false);
    flusher.join();
    recorder.flush();

    long total = (long) threads * perThread;
    assertThat(fx.row("SELECT sum(requests) AS requests, sum(tasks_submitted) AS submitted, sum(bytes_in) AS bytes_in,"
        + " sum(bytes_out) AS bytes_out, sum(bytes_stored) AS bytes_stored FROM usage_minutes WHERE tenant = ?", tenant).values())
        .extracting(v -> ((Number) v).longValue())
        .containsExactly(total, total, 2 * total, 3 * total, 5 * total);
  }
}
