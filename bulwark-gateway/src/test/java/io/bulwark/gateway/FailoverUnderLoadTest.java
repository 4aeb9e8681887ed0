package io.bulwark.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.eclipse.jetty.client.BufferingResponseListener;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.StringRequestContent;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The customer's scenario: steady traffic, and the main API server dies abruptly. With safe retries
 * and passive mark-down not one client request fails, and the backup serves within a second.
 */
class FailoverUnderLoadTest {
  static final int RATE_PER_SECOND = 200;
  static final Duration LOAD = Duration.ofSeconds(5);
  static final Duration STOP_AT = Duration.ofMillis(2000);

  GatewayFixture fx;
  ScheduledExecutorService clients;

  @AfterEach
  void stop() {
    if (clients != null) clients.shutdownNow();
    if (fx != null) fx.close();
  }

  /** One client request's outcome. */
  record Outcome(long sentAtNanos, long doneAtNanos, int status, String backend, String failure) {}

  @Test
  void stopping_the_primary_abruptly_under_steady_load_fails_no_client_request() {
    fx = GatewayFixture.mainAndBackup(c -> c.withChecks(HealthCheckConfig.defaults()));
    Queue<Outcome> outcomes = new ConcurrentLinkedQueue<>();
    AtomicInteger sent = new AtomicInteger();
    AtomicLong stoppedAt = new AtomicLong();
    long total = LOAD.toMillis() * RATE_PER_SECOND / 1000;
    int threads = 4;
    long periodMicros = 1_000_000L * threads / RATE_PER_SECOND;
    clients = Executors.newScheduledThreadPool(threads + 1, Thread.ofPlatform().daemon().name("load-", 0).factory());
    long start = System.nanoTime();
    for (int t = 0; t < threads; t++) {
      long offset = periodMicros * t / threads;
      clients.scheduleAtFixedRate(() -> {
        int n = sent.getAndIncrement();
        if (n >= total) return;
        send(n, outcomes);
      }, offset, periodMicros, TimeUnit.MICROSECONDS);
    }
    clients.schedule(() -> {
      fx.main().stop();
      stoppedAt.set(System.nanoTime());
    }, STOP_AT.toMillis(), TimeUnit.MILLISECONDS);

    await().atMost(LOAD.plusSeconds(10)).until(() -> outcomes.size() >= total);
    long elapsedMillis = (System.nanoTime() - start) / 1_000_000;

    List<Outcome> all = List.copyOf(outcomes);
    List<Outcome> failed = all.stream().filter(o -> o.status() != 200).toList();
    assertThat(failed).as("failed client requests").isEmpty();
    Map<String, Long> byBackend = all.stream().collect(Collectors.groupingBy(Outcome::backend, Collectors.counting()));
    assertThat(byBackend.keySet()).containsExactlyInAnyOrder("api-main", "api-backup");
    assertThat(elapsedMillis).as("the load ran at about the planned rate").isLessThan(LOAD.toMillis() + 3000);

    long stop = stoppedAt.get();
    long firstBackupMillis = all.stream().filter(o -> o.backend().equals("api-backup"))
        .mapToLong(o -> (o.doneAtNanos() - stop) / 1_000_000).min().orElseThrow();
    assertThat(firstBackupMillis).as("time from the stop to the first backup-served request").isLessThanOrEqualTo(1000);
    assertThat(all.stream().filter(o -> o.sentAtNanos() > stop).map(Outcome::backend).distinct())
        .as("every request sent after the stop went to the backup").containsExactly("api-backup");
    System.out.printf("load: %d requests in %d ms, %s; first backup answer %d ms after the stop; retries %s%n", all.size(),
        elapsedMillis, byBackend, firstBackupMillis, fx.metrics.scrape().lines()
            .filter(l -> l.startsWith("bulwark_gateway_backend_retries_total")).toList());
  }

  private void send(int n, Queue<Outcome> outcomes) {
    long sentAt = System.nanoTime();
    Request r = n % 2 == 0
        ? fx.request("GET", "/v1/tasks/t" + n)
        : fx.request("POST", "/v1/tasks").headers(h -> h.put("Idempotency-Key", "key-" + n))
            .body(new StringRequestContent("application/json", "{\"type\":\"noop\",\"n\":" + n + "}"));
    r.send(new BufferingResponseListener() {
      @Override
      public void onComplete(org.eclipse.jetty.client.Result result) {
        long done = System.nanoTime();
        if (result.isFailed()) {
          outcomes.add(new Outcome(sentAt, done, -1, "-", result.getFailure().toString()));
        } else {
          String backend = result.getResponse().getHeaders().get("X-Backend");
          outcomes.add(new Outcome(sentAt, done, result.getResponse().getStatus(), backend == null ? "-" : backend,
              result.getResponse().getStatus() == 200 ? null : getContentAsString()));
        }
      }
    });
  }
}
