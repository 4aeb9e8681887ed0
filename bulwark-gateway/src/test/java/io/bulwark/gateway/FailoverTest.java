package io.bulwark.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** HAProxy backup semantics with automatic failover: active checks, passive mark-down, rise to come back. */
class FailoverTest {
  GatewayFixture fx;

  @AfterEach
  void stop() {
    if (fx != null) fx.close();
  }

  @Test
  void the_backup_gets_no_traffic_while_the_primary_is_up() {
    fx = GatewayFixture.mainAndBackup();
    for (int i = 0; i < 20; i++) {
      GatewayFixture.Resp r = fx.get("/v1/tasks/" + i);
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.backend()).isEqualTo("api-main");
    }
    assertThat(fx.main().requests).hasValue(20);
    assertThat(fx.backup().requests).hasValue(0);
    assertThat(fx.backup().healthChecks.get()).as("the backup is checked all the same").isPositive();
  }

  @Test
  void all_traffic_goes_to_the_backup_at_once_when_the_primary_stops_and_back_after_it_passes_rise_checks() {
    // production check settings: 1 s interval, rise 2, fall 2, 250 ms fast interval
    fx = GatewayFixture.mainAndBackup(c -> c.withChecks(HealthCheckConfig.defaults()));
    assertThat(fx.get("/ping").backend()).isEqualTo("api-main");

    fx.main().stop();
    long stopped = System.nanoTime();
    GatewayFixture.Resp first = fx.get("/ping");
    long firstBackupMillis = (System.nanoTime() - stopped) / 1_000_000;
    assertThat(first.status()).isEqualTo(200);
    assertThat(first.backend()).isEqualTo("api-backup");
    assertThat(firstBackupMillis).as("time to the first backup-served request").isLessThanOrEqualTo(1000);
    assertThat(fx.gateway.server("api-main").health()).as("marked down by the refused connection").isEqualTo(Health.DOWN);
    for (int i = 0; i < 10; i++) assertThat(fx.get("/ping").backend()).isEqualTo("api-backup");

    fx.main().restart();
    long restarted = System.nanoTime();
    assertThat(fx.gateway.awaitHealth("api-main", Health.UP, Duration.ofSeconds(5))).isTrue();
    long upMillis = (System.nanoTime() - restarted) / 1_000_000;
    // rise 2 at the fast interval: two checks after the one already scheduled
    assertThat(upMillis).as("time to come back").isLessThan(2000);
    assertThat(fx.gateway.server("api-main").checksPassed()).isGreaterThanOrEqualTo(2);
    int backupBefore = fx.backup().requests.get();
    for (int i = 0; i < 10; i++) assertThat(fx.get("/ping").backend()).isEqualTo("api-main");
    assertThat(fx.backup().requests).hasValue(backupBefore);
  }

  @Test
  void health_checks_alone_take_a_stopped_primary_out_within_fall_checks() {
    fx = GatewayFixture.mainAndBackup(c -> c.withChecks(HealthCheckConfig.defaults()));
    fx.main().stop();
    long stopped = System.nanoTime();
    // no traffic: only the checks can notice; one normal interval, then fall - 1 fast ones
    assertThat(fx.gateway.awaitHealth("api-main", Health.DOWN, Duration.ofSeconds(3))).isTrue();
    long millis = (System.nanoTime() - stopped) / 1_000_000;
    assertThat(millis).as("one interval plus fall - 1 fast intervals, plus slack for a busy machine").isLessThanOrEqualTo(1000 + 250 + 500);
    assertThat(fx.get("/ping").backend()).isEqualTo("api-backup");
    assertThat(fx.gateway.server("api-main").lastCheck()).startsWith("could not connect");
  }

  @Test
  void a_primary_whose_readiness_fails_is_taken_out_and_comes_back_after_rise_passed_checks() {
    fx = GatewayFixture.mainAndBackup();
    fx.main().ready(false);
    assertThat(fx.gateway.awaitHealth("api-main", Health.DOWN, Duration.ofSeconds(3))).isTrue();
    assertThat(fx.gateway.server("api-main").lastCheck()).isEqualTo("answered 503");
    assertThat(fx.get("/ping").backend()).isEqualTo("api-backup");

    fx.main().ready(true);
    assertThat(fx.gateway.awaitHealth("api-main", Health.UP, Duration.ofSeconds(3))).isTrue();
    assertThat(fx.get("/ping").backend()).isEqualTo("api-main");
  }

  @Test
  void a_server_that_is_down_at_start_needs_rise_passed_checks_and_one_that_is_up_takes_traffic_at_once() {
    FakeBackend main = FakeBackend.start("api-main");
    main.ready(false);
    FakeBackend backup = FakeBackend.start("api-backup");
    try (var gateway = new Gateway(GatewayConfig.mainAndBackup("gw-start", 0, 0, main.url(), backup.url())
        .withChecks(GatewayFixture.FAST_CHECKS), new io.bulwark.core.metrics.Metrics())) {
      gateway.start();
      assertThat(gateway.server("api-main").health()).isEqualTo(Health.DOWN);
      assertThat(gateway.server("api-backup").health()).as("up right after start()").isEqualTo(Health.UP);
      main.ready(true);
      assertThat(gateway.awaitHealth("api-main", Health.UP, Duration.ofSeconds(3))).isTrue();
      assertThat(gateway.server("api-main").checksPassed()).isGreaterThanOrEqualTo(2);
    } finally {
      main.close();
      backup.close();
    }
  }

  @Test
  void several_primaries_share_the_requests_and_only_the_first_usable_backup_is_used() {
    fx = GatewayFixture.of("api-a", "api-b", "backup-1", "backup-2");
    for (int i = 0; i < 40; i++) assertThat(fx.get("/ping").status()).isEqualTo(200);
    assertThat(fx.backend("api-a").requests.get()).isEqualTo(20);
    assertThat(fx.backend("api-b").requests.get()).isEqualTo(20);

    fx.backend("api-a").stop();
    fx.gateway.setState("api-b", ServerState.MAINT);
    for (int i = 0; i < 10; i++) assertThat(fx.get("/ping").backend()).isEqualTo("backup-1");
    assertThat(fx.backend("backup-2").requests).hasValue(0);

    fx.gateway.setState("backup-1", ServerState.MAINT);
    assertThat(fx.get("/ping").backend()).isEqualTo("backup-2");

    fx.gateway.setState("api-b", ServerState.READY);
    await().atMost(Duration.ofSeconds(2)).untilAsserted(() -> assertThat(fx.get("/ping").backend()).isEqualTo("api-b"));
  }
}
