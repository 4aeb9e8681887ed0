package io.bulwark.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** drain lets requests in flight finish and sends new ones elsewhere; maint takes a server out; ready brings it back. */
class DrainTest {
  GatewayFixture fx;

  @AfterEach
  void stop() {
    if (fx != null) {
      fx.main().releaseHeld();
      fx.close();
    }
  }

  @Test
  void a_drained_server_finishes_its_slow_request_while_new_ones_go_elsewhere_and_await_idle_returns_after_it() {
    fx = GatewayFixture.mainAndBackup();
    CompletableFuture<GatewayFixture.Resp> slow = CompletableFuture.supplyAsync(() -> fx.get("/hold"));
    await().atMost(Duration.ofSeconds(5)).until(() -> fx.main().holding() == 1);
    assertThat(fx.gateway.server("api-main").inFlight()).isEqualTo(1);

    fx.gateway.setState("api-main", ServerState.DRAIN);

    for (int i = 0; i < 5; i++) assertThat(fx.get("/ping").backend()).isEqualTo("api-backup");
    assertThat(fx.gateway.awaitIdle("api-main", Duration.ofMillis(50))).as("still busy").isFalse();
    CompletableFuture<Boolean> idle = CompletableFuture.supplyAsync(() -> fx.gateway.awaitIdle("api-main", Duration.ofSeconds(10)));
    assertThat(idle).isNotDone();

    fx.main().releaseHeld();

    GatewayFixture.Resp r = slow.join();
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.body()).isEqualTo("held api-main");
    assertThat(idle).succeedsWithin(Duration.ofSeconds(5)).isEqualTo(true);
    assertThat(fx.gateway.server("api-main").inFlight()).isZero();
    assertThat(fx.main().requests).as("only the slow request").hasValue(1);
  }

  @Test
  void maint_takes_a_server_out_while_its_checks_go_on_and_ready_brings_it_back() {
    fx = GatewayFixture.mainAndBackup();
    fx.gateway.setState("api-main", ServerState.MAINT);
    int checksBefore = fx.main().healthChecks.get();

    for (int i = 0; i < 5; i++) assertThat(fx.get("/ping").backend()).isEqualTo("api-backup");
    assertThat(fx.main().requests).hasValue(0);
    await().atMost(Duration.ofSeconds(2)).until(() -> fx.main().healthChecks.get() > checksBefore + 2);
    assertThat(fx.gateway.server("api-main").state()).isEqualTo(ServerState.MAINT);
    assertThat(fx.gateway.server("api-main").usable()).isFalse();

    fx.gateway.setState("api-main", ServerState.READY);
    for (int i = 0; i < 5; i++) assertThat(fx.get("/ping").backend()).isEqualTo("api-main");
  }

  @Test
  void a_drained_server_that_is_idle_is_idle_at_once() {
    fx = GatewayFixture.mainAndBackup();
    fx.gateway.setState("api-main", ServerState.DRAIN);
    assertThat(fx.gateway.awaitIdle("api-main", Duration.ofSeconds(1))).isTrue();
  }

  @Test
  void the_zero_downtime_restart_sequence_loses_no_request() {
    fx = GatewayFixture.mainAndBackup();
    fx.gateway.setState("api-main", ServerState.DRAIN);
    assertThat(fx.gateway.awaitIdle("api-main", Duration.ofSeconds(5))).isTrue();
    fx.main().stop();
    assertThat(fx.get("/during").backend()).isEqualTo("api-backup");
    fx.main().restart();
    assertThat(fx.gateway.awaitHealth("api-main", Health.UP, Duration.ofSeconds(5))).isTrue();
    fx.gateway.setState("api-main", ServerState.READY);
    assertThat(fx.get("/after").backend()).isEqualTo("api-main");
  }

  @Test
  void an_unknown_server_name_is_refused_with_the_known_names() {
    fx = GatewayFixture.mainAndBackup();
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> fx.gateway.setState("api-nope", ServerState.DRAIN))
        .isInstanceOf(UnknownServerException.class)
        .hasMessage("no server named 'api-nope'; the servers are api-main, api-backup");
  }
}
