package io.bulwark.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.bulwark.dns.BindServer;
import io.bulwark.dns.TsigKey;
import io.bulwark.node.Ports;
import io.bulwark.testkit.FakeCloudflare;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `bulwark dns run` refuses a wrong set-up at start with one line naming the problem, and changes
 * nothing: against the real BIND 9 and a local Cloudflare API.
 */
@ParallelSafe
class DnsCommandTest {
  @TempDir static Path work;
  static BindServer bind;
  static Process named;

  @BeforeAll
  static void startBind() {
    bind = BindServer.prepare(new BindServer.Config(work.resolve("named"), "127.0.0.1", Ports.free(), "bulwark.test",
        Map.of("api", "127.0.0.1"), Duration.ofSeconds(5)));
    named = bind.start(work.resolve("named.log"), Duration.ofSeconds(20));
  }

  @AfterAll
  static void stopBind() {
    if (named != null) named.destroyForcibly();
  }

  static String run(String... extra) {
    List<String> args = new ArrayList<>(List.of("dns", "run", "--record", "api.bulwark.test", "--zone", "bulwark.test",
        "--gateway", "gateway=127.0.0.1:" + Ports.free(), "--gateway", "gateway-b=127.0.0.2:" + Ports.free()));
    args.addAll(List.of(extra));
    return DatabaseFailoverDrillTest.cli(args.toArray(String[]::new));
  }

  static String rfc2136(String keyFile, String... extra) {
    List<String> args = new ArrayList<>(List.of("--server", "127.0.0.1:" + bind.address().getPort(), "--tsig-key-file", keyFile));
    args.addAll(List.of(extra));
    return run(args.toArray(String[]::new));
  }

  static void refusedInOneLine(String out, String... contains) {
    assertThat(out).startsWith("1\n").contains(contains);
    assertThat(out.strip().lines().filter(l -> l.startsWith("bulwark: ")).count()).as(out).isEqualTo(1);
  }

  @Test
  void a_wrong_tsig_key_is_refused_at_start_and_the_record_is_unchanged() throws Exception {
    Path wrong = work.resolve("wrong.key");
    TsigKey good = bind.key();
    Files.writeString(wrong, new TsigKey(good.name(), good.algorithm(), TsigKey.generate("x").secret()).toBindFormat());
    refusedInOneLine(rfc2136(wrong.toString()), "refused the TSIG key 'bulwark-dns' (BADSIG");
    assertThat(bind.provider("api", Duration.ofSeconds(2)).current()).contains("127.0.0.1");
    Path unknown = work.resolve("unknown.key");
    Files.writeString(unknown, TsigKey.generate("nobody-knows").toBindFormat());
    refusedInOneLine(rfc2136(unknown.toString()), "BADKEY");
    Path garbage = work.resolve("garbage.key");
    Files.writeString(garbage, "not a key");
    refusedInOneLine(rfc2136(garbage.toString()), "holds no key in BIND's format");
  }

  @Test
  void an_unknown_zone_a_wrong_record_type_and_a_single_gateway_are_refused() {
    String key = bind.keyFile().toString();
    refusedInOneLine(DatabaseFailoverDrillTest.cli("dns", "run", "--record", "api.other.test", "--zone", "other.test",
        "--gateway", "a=127.0.0.1:1", "--gateway", "b=127.0.0.2:1", "--server", "127.0.0.1:" + bind.address().getPort(),
        "--tsig-key-file", key), "does not serve zone other.test");
    refusedInOneLine(rfc2136(key, "--type", "MX"), "record type 'MX' cannot point a name at a gateway");
    refusedInOneLine(DatabaseFailoverDrillTest.cli("dns", "run", "--record", "api.bulwark.test", "--zone", "bulwark.test",
        "--gateway", "a=127.0.0.1:1", "--server", "127.0.0.1:1", "--tsig-key-file", key), "at least two gateways");
    refusedInOneLine(rfc2136(key, "--gateway", "nonsense"), "a gateway is NAME=ADDRESS:PORT");
    refusedInOneLine(run("--provider", "route53"), "--provider must be rfc2136 or cloudflare");
    refusedInOneLine(run(), "--provider rfc2136 needs --server HOST:PORT and --tsig-key-file FILE");
  }

  @Test
  void a_cloudflare_token_without_edit_rights_is_refused_at_start_without_changing_the_record() throws Exception {
    try (FakeCloudflare cloudflare = new FakeCloudflare("0123456789abcdef0123456789abcdef", "bulwark.test")) {
      cloudflare.token("read-only-token", false);
      cloudflare.add("A", "api.bulwark.test", "127.0.0.1", 60);
      Path token = work.resolve("cf-token");
      Files.writeString(token, "read-only-token\n");
      String out = run("--provider", "cloudflare", "--cloudflare-api", cloudflare.apiBase().toString(),
          "--cloudflare-zone-id", "0123456789abcdef0123456789abcdef", "--cloudflare-token-file", token.toString());
      refusedInOneLine(out, "cannot edit");
      assertThat(out).doesNotContain("read-only-token");
      assertThat(cloudflare.content("A", "api.bulwark.test")).contains("127.0.0.1");
      refusedInOneLine(run("--provider", "cloudflare", "--cloudflare-zone-id", "0123456789abcdef0123456789abcdef"),
          "needs a token: --cloudflare-token-file FILE or BULWARK_CLOUDFLARE_TOKEN");
    }
  }

  @Test
  void status_and_switch_without_a_running_controller_say_how_to_start_one() {
    refusedInOneLine(DatabaseFailoverDrillTest.cli("dns", "status", "--data-dir", work.resolve("nothing").toString()),
        "no DNS controller runs on", "--dns bind");
    refusedInOneLine(DatabaseFailoverDrillTest.cli("dns", "switch", "gateway-b", "--data-dir", work.resolve("nothing").toString()),
        "no DNS controller runs on");
  }
}
