package io.bulwark.dns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Base64;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The RFC 2136 provider against the real BIND 9: reads, switches, and every refusal named in one line. */
class Rfc2136ProviderTest {
  static LocalBind bind;

  @BeforeAll
  static void startBind() throws Exception {
    bind = new LocalBind();
  }

  @AfterAll
  static void stopBind() throws Exception {
    bind.close();
  }

  @Test
  void reads_and_switches_the_record_atomically() {
    Rfc2136Provider p = bind.provider();
    p.validate();
    p.point("127.0.0.1");
    assertThat(p.current()).contains("127.0.0.1");
    p.point("127.0.0.2");
    assertThat(p.current()).contains("127.0.0.2");
    assertThat(Dig.a(bind.server.address(), LocalBind.NAME)).containsExactly("127.0.0.2");
    p.point("127.0.0.1");
    assertThat(Dig.a(bind.server.address(), LocalBind.NAME)).containsExactly("127.0.0.1");
  }

  @Test
  void a_name_without_a_record_reads_as_empty() {
    Rfc2136Provider p = new Rfc2136Provider(bind.server.address(), bind.server.key(),
        new DnsRecord("nothing." + LocalBind.ZONE, LocalBind.ZONE, DnsRecord.Type.A, Duration.ofSeconds(5)), Duration.ofSeconds(2));
    assertThat(p.current()).isEmpty();
  }

  @Test
  void a_wrong_secret_is_refused_with_badsig_and_changes_nothing() {
    TsigKey wrong = new TsigKey(bind.server.key().name(), "hmac-sha256", Base64.getEncoder().encodeToString(new byte[32]));
    Rfc2136Provider p = new Rfc2136Provider(bind.server.address(), wrong, bind.provider().record(), Duration.ofSeconds(2));
    assertThatThrownBy(p::validate).isInstanceOf(DnsConfigException.class).hasMessageContaining("BADSIG")
        .hasMessageNotContaining(wrong.secret()).satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
    assertThatThrownBy(() -> p.point("127.0.0.9")).isInstanceOf(DnsConfigException.class);
    assertThat(bind.provider().current()).isNotEqualTo(java.util.Optional.of("127.0.0.9"));
  }

  @Test
  void an_unknown_key_name_is_refused() {
    TsigKey unknown = TsigKey.generate("not-a-key");
    Rfc2136Provider p = new Rfc2136Provider(bind.server.address(), unknown, bind.provider().record(), Duration.ofSeconds(2));
    assertThatThrownBy(p::validate).isInstanceOf(DnsConfigException.class).hasMessageContaining("BADKEY");
  }

  @Test
  void a_zone_the_server_does_not_serve_is_refused() {
    Rfc2136Provider p = new Rfc2136Provider(bind.server.address(), bind.server.key(),
        new DnsRecord("api.elsewhere.test", "elsewhere.test", DnsRecord.Type.A, Duration.ofSeconds(5)), Duration.ofSeconds(2));
    assertThatThrownBy(p::validate).isInstanceOf(DnsConfigException.class).hasMessageContaining("does not serve zone elsewhere.test");
    assertThatThrownBy(() -> p.point("127.0.0.2")).isInstanceOf(DnsConfigException.class);
  }

  @Test
  void record_types_other_than_a_aaaa_cname_are_refused() {
    assertThatThrownBy(() -> DnsRecord.Type.parse("MX")).isInstanceOf(DnsConfigException.class)
        .hasMessageContaining("record type 'MX' cannot point a name at a gateway");
    assertThatThrownBy(() -> new DnsRecord("api.other.test", "bulwark.test", DnsRecord.Type.A, Duration.ofSeconds(5)))
        .hasMessageContaining("not in the zone");
  }

  @Test
  void an_invalid_value_is_refused_before_anything_is_sent() {
    assertThatThrownBy(() -> bind.provider().point("not-an-address")).isInstanceOf(DnsConfigException.class)
        .hasMessageContaining("not a valid A value");
  }

  @Test
  void a_server_that_does_not_answer_is_unavailable_not_misconfigured() {
    Rfc2136Provider p = new Rfc2136Provider(new InetSocketAddress("127.0.0.1", 1), bind.server.key(), bind.provider().record(),
        Duration.ofMillis(500));
    assertThatThrownBy(() -> p.point("127.0.0.2")).isInstanceOf(DnsUnavailableException.class).hasMessageContaining("did not answer");
  }

  @Test
  void the_key_file_round_trips_in_binds_format() throws Exception {
    TsigKey read = TsigKey.read(bind.server.keyFile());
    assertThat(read).isEqualTo(bind.server.key());
    assertThat(read.toString()).doesNotContain(read.secret());
  }
}
