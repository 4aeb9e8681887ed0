package io.bulwark.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bulwark.core.BulwarkException;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Settings refuse nonsense with a message that names the setting, the unit and the value. */
class GatewayConfigTest {
  static final BackendConfig MAIN = BackendConfig.primary("api-main", "http://127.0.0.1:8080");
  static final BackendConfig BACKUP = BackendConfig.backup("api-backup", "http://127.0.0.1:8081");

  @Test
  void the_defaults_are_the_documented_ones() {
    GatewayConfig c = GatewayConfig.mainAndBackup("gw", 8000, 8001, "http://127.0.0.1:8080", "http://127.0.0.1:8081");
    assertThat(c.backends()).containsExactly(MAIN, BACKUP);
    assertThat(c.maxBodyBytes()).isEqualTo(16L * 1024 * 1024);
    assertThat(c.upstreamConnectTimeout()).isEqualTo(Duration.ofSeconds(1));
    assertThat(c.upstreamTimeout()).isEqualTo(Duration.ofSeconds(70));
    assertThat(c.clientIdleTimeout()).isEqualTo(Duration.ofSeconds(30));
    assertThat(c.requestReadTimeout()).isEqualTo(Duration.ofSeconds(10));
    assertThat(c.adminHost()).isEqualTo("127.0.0.1");
    HealthCheckConfig h = c.checks();
    assertThat(h).isEqualTo(new HealthCheckConfig("/health/ready", Duration.ofSeconds(1), Duration.ofMillis(500), 2, 2, Duration.ofMillis(250)));
  }

  @Test
  void the_eleven_setting_constructor_takes_the_default_request_read_timeout() {
    GatewayConfig c = new GatewayConfig("gw", "0.0.0.0", 0, "localhost", 0, List.of(MAIN), HealthCheckConfig.defaults(), 1024,
        Duration.ofSeconds(1), Duration.ofSeconds(70), Duration.ofSeconds(30));
    assertThat(c.requestReadTimeout()).isEqualTo(GatewayConfig.DEFAULT_REQUEST_READ_TIMEOUT);
  }

  @Test
  void a_gateway_needs_a_primary_and_unique_backends() {
    assertRefused(() -> GatewayConfig.defaults("gw", 0, 0, List.of()), "at least one backend is needed, e.g. api-main=http://127.0.0.1:8080");
    assertRefused(() -> GatewayConfig.defaults("gw", 0, 0, List.of(BACKUP)),
        "at least one backend must be a primary (not backup); all of [api-backup] are backups");
    assertRefused(() -> GatewayConfig.defaults("gw", 0, 0, List.of(MAIN, BackendConfig.backup("api-main", "http://127.0.0.1:9"))),
        "backend names must be unique: 'api-main' appears twice");
    assertRefused(() -> GatewayConfig.defaults("gw", 0, 0, List.of(MAIN, BackendConfig.backup("api-2", "http://127.0.0.1:8080/"))),
        "backends api-main and api-2 have the same url http://127.0.0.1:8080");
  }

  @Test
  void backend_urls_are_plain_http_origins() {
    assertRefused(() -> BackendConfig.primary("a", "https://x:1"), "backend a url must start with http://, got https://x:1");
    assertRefused(() -> BackendConfig.primary("a", "http://x"), "backend a url must name a host and a port, e.g. http://127.0.0.1:8080, got http://x");
    assertRefused(() -> BackendConfig.primary("a", "http://x:1/api"), "backend a url must be just http://host:port (no path, query or user), got http://x:1/api");
    assertRefused(() -> BackendConfig.primary("a b", "http://x:1"), "backend name must be 1-64 letters, digits, '.', '_' or '-', got 'a b'");
  }

  @Test
  void ports_timeouts_and_sizes_are_checked_with_their_units() {
    GatewayConfig ok = GatewayConfig.mainAndBackup("gw", 0, 0, "http://127.0.0.1:8080", "http://127.0.0.1:8081");
    assertRefused(() -> GatewayConfig.defaults("gw", 70000, 0, List.of(MAIN)), "port must be 0-65535, got 70000");
    assertRefused(() -> GatewayConfig.defaults("gw", 8000, 8000, List.of(MAIN)), "port and admin port must differ, both are 8000");
    assertRefused(() -> ok.withMaxBodyBytes(-1), "max body size must be 0-1073741824 bytes (bodies are buffered in memory), got -1");
    assertRefused(() -> ok.withUpstreamTimeouts(Duration.ofMillis(5), Duration.ofSeconds(1)), "upstream connect timeout cannot be less than 10 ms, got 5 ms");
    assertRefused(() -> ok.withUpstreamTimeouts(Duration.ofSeconds(2), Duration.ofSeconds(1)),
        "upstream connect timeout (2000 ms) cannot exceed the upstream timeout (1000 ms)");
    assertRefused(() -> ok.withClientTimeouts(Duration.ofMillis(50), Duration.ofSeconds(1)), "client idle timeout cannot be less than 100 ms, got 50 ms");
    assertRefused(() -> ok.withClientTimeouts(Duration.ofSeconds(1), Duration.ZERO), "request read timeout cannot be less than 100 ms, got 0 ms");
  }

  @Test
  void the_admin_api_only_listens_on_loopback() {
    GatewayConfig ok = GatewayConfig.mainAndBackup("gw", 0, 0, "http://127.0.0.1:8080", "http://127.0.0.1:8081");
    assertRefused(() -> new GatewayConfig("gw", "0.0.0.0", 0, "0.0.0.0", 0, ok.backends(), ok.checks(), 1024,
        Duration.ofSeconds(1), Duration.ofSeconds(70), Duration.ofSeconds(30)),
        "admin host must be a loopback address such as 127.0.0.1 (the admin API has no authentication), got '0.0.0.0'");
  }

  @Test
  void health_check_settings_are_checked_with_their_units() {
    HealthCheckConfig d = HealthCheckConfig.defaults();
    assertRefused(() -> d.withIntervals(Duration.ofMillis(5), Duration.ofMillis(5)), "health check interval cannot be less than 10 ms, got 5 ms");
    assertRefused(() -> d.withIntervals(Duration.ofMillis(100), Duration.ofMillis(200)),
        "health check fast interval cannot exceed the interval (100 ms), got 200 ms");
    assertRefused(() -> d.withTimeout(Duration.ZERO), "health check timeout cannot be less than 10 ms, got 0 ms");
    assertRefused(() -> d.withRiseFall(0, 2), "health check rise must be 1-100 checks, got 0");
    assertRefused(() -> d.withRiseFall(2, 101), "health check fall must be 1-100 checks, got 101");
    assertRefused(() -> new HealthCheckConfig("health", d.interval(), d.timeout(), 2, 2, d.fastInterval()),
        "health check path must start with '/', got 'health'");
  }

  @Test
  void server_states_parse_in_any_case_and_refuse_others() {
    assertThat(ServerState.parse(" Drain ")).isEqualTo(ServerState.DRAIN);
    assertThat(AdminHandler.parseState("{\"state\":\"maint\"}")).isEqualTo(ServerState.MAINT);
    assertThat(AdminHandler.parseState("\"ready\"")).isEqualTo(ServerState.READY);
    assertRefused(() -> ServerState.parse("down"), "server state must be ready, drain or maint, got 'down'");
  }

  private static void assertRefused(org.assertj.core.api.ThrowableAssert.ThrowingCallable call, String message) {
    assertThatThrownBy(call).isInstanceOf(BulwarkException.class).hasMessage(message);
  }
}
