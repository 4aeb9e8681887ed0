package io.bulwark.dns;

import static org.assertj.core.api.Assertions.assertThat;

import io.bulwark.dns.DnsPolicy.Config;
import io.bulwark.dns.DnsPolicy.GatewayHealth;
import io.bulwark.dns.DnsPolicy.Stay;
import io.bulwark.dns.DnsPolicy.SwitchTo;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Every rule of the DNS switch, without a server or a clock. */
class DnsPolicyTest {
  static final Gateway A = Gateway.at("gateway-a", "127.0.0.1", 8080);
  static final Gateway B = Gateway.at("gateway-b", "127.0.0.2", 8080);
  static final Config C = Config.DEFAULTS;

  static GatewayHealth checked(Gateway g, boolean... results) {
    GatewayHealth h = GatewayHealth.unknown(g);
    for (boolean r : results) h = h.after(r, r ? null : "connection refused", C);
    return h;
  }

  @Test
  void the_first_passed_check_makes_a_gateway_healthy_and_fall_failed_ones_make_it_down() {
    assertThat(checked(A, true).isHealthy()).isTrue();
    assertThat(checked(A, false).healthy()).as("a gateway still starting is not yet down").isEmpty();
    assertThat(checked(A, false, false).healthy()).isEmpty();
    assertThat(checked(A, false, false, false).isDown()).as("fall 3 failures in a row").isTrue();
    assertThat(checked(A, false, false, true).isHealthy()).as("then up at its first pass").isTrue();
    assertThat(checked(A, true, false, false).isHealthy()).as("two failures < fall 3").isTrue();
    assertThat(checked(A, true, false, false, false).isDown()).isTrue();
    assertThat(checked(A, false, false, false, true).isDown()).as("one pass < rise 2").isTrue();
    assertThat(checked(A, false, false, false, true, true).isHealthy()).isTrue();
    assertThat(checked(A, true, false, false, true, false, false).isHealthy()).as("failures must be in a row").isTrue();
    assertThat(GatewayHealth.unknown(A).healthy()).isEmpty();
  }

  @Test
  void stays_on_a_healthy_gateway_even_when_another_is_preferred() {
    var d = DnsPolicy.decide(C, List.of(checked(A, true), checked(B, true)), Optional.of("127.0.0.2"));
    assertThat(d).isInstanceOf(Stay.class);
  }

  @Test
  void switches_when_the_gateway_fails_fall_checks_in_a_row() {
    var down = checked(A, true, false, false, false);
    var d = DnsPolicy.decide(C, List.of(down, checked(B, true)), Optional.of("127.0.0.1"));
    assertThat(d).isInstanceOfSatisfying(SwitchTo.class, s -> assertThat(s.to()).isEqualTo(B));
    assertThat(d.why()).contains("gateway-a failed 3 checks in a row", "connection refused");
  }

  @Test
  void does_not_switch_before_fall() {
    var d = DnsPolicy.decide(C, List.of(checked(A, true, false, false), checked(B, true)), Optional.of("127.0.0.1"));
    assertThat(d).isInstanceOf(Stay.class);
  }

  @Test
  void never_points_at_an_unhealthy_gateway_and_never_removes_the_record() {
    var d = DnsPolicy.decide(C, List.of(checked(A, true, false, false, false), checked(B, false)), Optional.of("127.0.0.1"));
    assertThat(d).isInstanceOf(Stay.class);
    assertThat(d.why()).contains("no other gateway is healthy");
    var unknown = DnsPolicy.decide(C, List.of(checked(A, true, false, false, false), GatewayHealth.unknown(B)), Optional.of("127.0.0.1"));
    assertThat(unknown).as("a gateway not checked yet is not healthy").isInstanceOf(Stay.class);
  }

  @Test
  void a_missing_or_foreign_record_points_at_the_first_healthy_gateway() {
    assertThat(DnsPolicy.decide(C, List.of(checked(A, false), checked(B, true)), Optional.empty()))
        .isInstanceOfSatisfying(SwitchTo.class, s -> assertThat(s.to()).isEqualTo(B));
    assertThat(DnsPolicy.decide(C, List.of(checked(A, true), checked(B, true)), Optional.of("10.9.9.9")))
        .isInstanceOfSatisfying(SwitchTo.class, s -> assertThat(s.why()).contains("no gateway of this controller"));
    assertThat(DnsPolicy.decide(C, List.of(checked(A, false), checked(B, false)), Optional.empty())).isInstanceOf(Stay.class);
  }

  @Test
  void failback_only_when_enabled_and_after_the_hysteresis() {
    Config failback = new Config(2, 3, true, 5);
    boolean[] four = {false, true, true, true, true};
    boolean[] five = {false, true, true, true, true, true};
    assertThat(DnsPolicy.decide(failback, List.of(checked(A, four), checked(B, true)), Optional.of("127.0.0.2"))).isInstanceOf(Stay.class);
    assertThat(DnsPolicy.decide(failback, List.of(checked(A, five), checked(B, true)), Optional.of("127.0.0.2")))
        .isInstanceOfSatisfying(SwitchTo.class, s -> assertThat(s.to()).isEqualTo(A));
    assertThat(DnsPolicy.decide(C, List.of(checked(A, five), checked(B, true)), Optional.of("127.0.0.2"))).isInstanceOf(Stay.class);
  }

  @Test
  void a_planned_switch_to_an_unhealthy_gateway_needs_force() {
    assertThat(DnsPolicy.refusePlanned(checked(B, false), false)).hasValueSatisfying(w -> assertThat(w).contains("--force"));
    assertThat(DnsPolicy.refusePlanned(GatewayHealth.unknown(B), false)).isPresent();
    assertThat(DnsPolicy.refusePlanned(checked(B, false), true)).isEmpty();
    assertThat(DnsPolicy.refusePlanned(checked(B, true), false)).isEmpty();
  }

  @Test
  void gateway_flags_parse_and_bad_ones_say_what_is_expected() {
    assertThat(Gateway.parse("gateway-b=127.0.0.2:8080")).isEqualTo(B);
    assertThat(Gateway.parse("v6=[::1]:8080").health().toString()).isEqualTo("http://[::1]:8080/health/ready");
    for (String bad : List.of("gateway-b", "=1.2.3.4:80", "g=1.2.3.4", "g=1.2.3.4:x", "g=1.2.3.4:70000")) {
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> Gateway.parse(bad)).isInstanceOf(DnsConfigException.class)
          .hasMessageContaining("gateway");
    }
  }

  @Test
  void an_ipv6_record_matches_its_gateway_however_the_address_is_written() {
    Gateway v6 = Gateway.at("gateway-v6", "2001:db8::1", 8080);
    assertThat(DnsPolicy.sameTarget("2001:db8::1", "2001:db8:0:0:0:0:0:1")).isTrue();
    assertThat(DnsPolicy.sameTarget("2001:db8::1", "2001:db8::2")).isFalse();
    assertThat(DnsPolicy.sameTarget("gw.example.test", "GW.example.test")).isTrue();
    var d = DnsPolicy.decide(C, List.of(checked(A, true), checked(v6, true)), Optional.of("2001:db8:0:0:0:0:0:1"));
    assertThat(d).as("a healthy AAAA gateway is not switched away from every tick").isInstanceOf(Stay.class);
  }
}
