package io.bulwark.dns;

import io.bulwark.testkit.FakeCloudflare;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class CloudflareProviderTest {
  static final String ZONE_ID = "023e105f4ecef8ad9ca31a8372d0c353";
  static final String ZONE = "example.test";
  static final String NAME = "api.example.test";
  static final String OLD = "192.0.2.10";
  static final String EDIT_TOKEN = "cf-edit-Y3q8TzK1pWm9aLr2";
  static final String READ_TOKEN = "cf-read-H7vN0sDb4XeQ6uJc";
  static final String UNKNOWN_TOKEN = "cf-gone-Zt5Rk2Lw8MfP1yGa";
  static final List<String> TOKENS = List.of(EDIT_TOKEN, READ_TOKEN, UNKNOWN_TOKEN);

  FakeCloudflare cf;
  String recordId;
  final List<CloudflareProvider> providers = new ArrayList<>();

  @BeforeEach
  void start() throws Exception {
    cf = new FakeCloudflare(ZONE_ID, ZONE).token(EDIT_TOKEN, true).token(READ_TOKEN, false);
    recordId = cf.add("A", NAME, OLD, 60);
  }

  @AfterEach
  void stop() {
    providers.forEach(CloudflareProvider::close);
    cf.close();
  }

  static DnsRecord rec(String name, String zone, DnsRecord.Type type, int ttlSeconds) {
    return new DnsRecord(name, zone, type, Duration.ofSeconds(ttlSeconds));
  }

  CloudflareProvider provider(String token) {
    return provider(token, rec(NAME, ZONE, DnsRecord.Type.A, 60));
  }

  CloudflareProvider provider(String token, DnsRecord record) {
    return provider(ZONE_ID, token, record, false, Duration.ofSeconds(5));
  }

  CloudflareProvider provider(String zoneId, String token, DnsRecord record, boolean proxied, Duration timeout) {
    CloudflareProvider p = new CloudflareProvider(cf.apiBase(), zoneId, token, record, proxied, timeout);
    providers.add(p);
    return p;
  }

  /** The exception {@code call} throws: of {@code type}, one line, and never holding a token. */
  static <T extends Throwable> T refusal(Class<T> type, ThrowingCallable call) {
    T e = catchThrowableOfType(type, call);
    assertThat(e).as("expected a " + type.getSimpleName()).isNotNull();
    assertThat(e.getMessage()).doesNotContain("\n");
    for (Throwable t = e; t != null; t = t.getCause()) {
      for (String token : TOKENS) assertThat(String.valueOf(t.getMessage())).doesNotContain(token);
      for (String token : TOKENS) assertThat(t.toString()).doesNotContain(token);
    }
    return e;
  }

  @Test
  void readsAndPointsTheRecord() {
    CloudflareProvider p = provider(EDIT_TOKEN);
    assertThat(p.current()).contains(OLD);

    p.point("192.0.2.20");

    assertThat(cf.content("A", NAME)).contains("192.0.2.20");
    assertThat(p.current()).contains("192.0.2.20");
    assertThat(cf.records()).hasSize(1);
    assertThat(cf.record(recordId)).isEqualTo(new FakeCloudflare.Rec(recordId, "A", NAME, "192.0.2.20", 60, false));
    assertThat(cf.requestLog()).contains("PATCH /zones/" + ZONE_ID + "/dns_records/" + recordId)
        .noneMatch(r -> r.startsWith("POST") || r.startsWith("DELETE"));
  }

  @Test
  void pointingAtTheCurrentValueChangesNothing() {
    CloudflareProvider p = provider(EDIT_TOKEN);
    p.point(OLD);
    assertThat(cf.requestLog()).containsExactly("GET /zones/" + ZONE_ID + "/dns_records");
    assertThat(cf.content("A", NAME)).contains(OLD);
  }

  @Test
  void createsTheRecordWhenMissingAndChangesItAfterwards() {
    String name = "new.example.test";
    CloudflareProvider p = provider(EDIT_TOKEN, rec(name, ZONE, DnsRecord.Type.A, 120));
    assertThat(p.current()).isEmpty();

    p.point("198.51.100.7");
    assertThat(cf.content("A", name)).contains("198.51.100.7");
    assertThat(p.current()).contains("198.51.100.7");

    p.point("198.51.100.8");
    assertThat(cf.records()).filteredOn(r -> r.name().equals(name)).singleElement()
        .satisfies(r -> assertThat(r.content()).isEqualTo("198.51.100.8"))
        .satisfies(r -> assertThat(r.ttl()).isEqualTo(120));
    assertThat(cf.requestLog()).filteredOn(r -> r.startsWith("POST")).hasSize(1);
    assertThat(cf.content("A", NAME)).contains(OLD);
  }

  @Test
  void recordsOfAnotherTypeAtTheNameAreNotTheRecord() {
    String name = "mail.example.test";
    cf.add("TXT", name, "v=spf1 -all", 300);
    cf.add("MX", name, "mx.example.test", 300);
    CloudflareProvider p = provider(EDIT_TOKEN, rec(name, ZONE, DnsRecord.Type.A, 60));
    assertThat(p.current()).isEmpty();

    p.point("203.0.113.5");
    assertThat(cf.content("A", name)).contains("203.0.113.5");
    assertThat(cf.content("TXT", name)).contains("v=spf1 -all");
    assertThat(cf.content("MX", name)).contains("mx.example.test");
  }

  @Test
  void aProxiedRecordIsSentWithAutomaticTtl() {
    CloudflareProvider p = provider(ZONE_ID, EDIT_TOKEN, rec(NAME, ZONE, DnsRecord.Type.A, 30), true, Duration.ofSeconds(5));
    p.point("192.0.2.30");
    assertThat(cf.record(recordId)).isEqualTo(new FakeCloudflare.Rec(recordId, "A", NAME, "192.0.2.30", 1, true));
  }

  @Test
  void aCnameTargetIsSentAndReadWithoutTheTrailingDot() {
    String name = "www.example.test";
    CloudflareProvider p = provider(EDIT_TOKEN, rec(name, ZONE, DnsRecord.Type.CNAME, 60));
    p.point("gw-2.example.net.");
    assertThat(cf.content("CNAME", name)).contains("gw-2.example.net");
    assertThat(p.current()).contains("gw-2.example.net");
  }

  @Test
  void validatePassesForAnEditingTokenWithANoOpPatch() {
    CloudflareProvider p = provider(EDIT_TOKEN);
    FakeCloudflare.Rec before = cf.record(recordId);

    p.validate();

    assertThat(cf.requestLog()).containsExactly("GET /zones/" + ZONE_ID, "GET /zones/" + ZONE_ID + "/dns_records",
        "PATCH /zones/" + ZONE_ID + "/dns_records/" + recordId);
    assertThat(cf.record(recordId)).isEqualTo(before);
  }

  @Test
  void validateLeavesTheRecordsOwnTtlAndProxyFlag() {
    String name = "cdn.example.test";
    String id = cf.add("A", name, "192.0.2.40", 60);
    CloudflareProvider proxied = provider(ZONE_ID, EDIT_TOKEN, rec(name, ZONE, DnsRecord.Type.A, 90), true,
        Duration.ofSeconds(5));
    proxied.validate();
    assertThat(cf.record(id)).isEqualTo(new FakeCloudflare.Rec(id, "A", name, "192.0.2.40", 60, false));
  }

  @Test
  void validateDoesNotCreateAMissingRecord() {
    CloudflareProvider p = provider(EDIT_TOKEN, rec("new.example.test", ZONE, DnsRecord.Type.A, 60));
    p.validate();
    assertThat(cf.requestLog()).noneMatch(r -> r.startsWith("POST") || r.startsWith("PATCH"));
    assertThat(cf.records()).hasSize(1);
  }

  @Test
  void validateRefusesAReadOnlyToken() {
    CloudflareProvider p = provider(READ_TOKEN);
    assertThat(p.current()).contains(OLD); // it can read

    DnsConfigException e = refusal(DnsConfigException.class, p::validate);

    assertThat(e.getMessage())
        .contains("cannot edit DNS records of zone " + ZONE_ID, "HTTP 403", "code 10000: Authentication error", "Zone.DNS:Edit");
    assertThat(cf.content("A", NAME)).contains(OLD);
  }

  @Test
  void validateRefusesAnUnknownToken() {
    DnsConfigException e = refusal(DnsConfigException.class, provider(UNKNOWN_TOKEN)::validate);
    assertThat(e.getMessage()).contains("the Cloudflare token cannot read zone " + ZONE_ID, "HTTP 403", "code 10000",
        "Zone.DNS:Edit");
    assertThat(cf.requests()).isEqualTo(1); // a refused token is not retried
    assertThat(cf.content("A", NAME)).contains(OLD);
  }

  @Test
  void pointWithAReadOnlyTokenIsRefusedWithoutRetriesAndChangesNothing() {
    DnsConfigException e = refusal(DnsConfigException.class, () -> provider(READ_TOKEN).point("192.0.2.99"));
    assertThat(e.getMessage()).contains("cannot edit DNS records", "Zone.DNS:Edit");
    assertThat(cf.requests()).isEqualTo(2);
    assertThat(cf.content("A", NAME)).contains(OLD);
  }

  @Test
  void validateRefusesAnUnknownZone() {
    String unknown = "ffffffffffffffffffffffffffffffff";
    CloudflareProvider p = provider(unknown, EDIT_TOKEN, rec(NAME, ZONE, DnsRecord.Type.A, 60), false, Duration.ofSeconds(5));

    DnsConfigException e = refusal(DnsConfigException.class, p::validate);

    assertThat(e.getMessage()).startsWith("Cloudflare has no zone " + unknown).contains("code 7003", "zone's id");
    assertThat(cf.requests()).isEqualTo(1);
  }

  @Test
  void validateRefusesAZoneIdOfAnotherZone() {
    CloudflareProvider p = provider(EDIT_TOKEN, rec("api.other.test", "other.test", DnsRecord.Type.A, 60));

    DnsConfigException e = refusal(DnsConfigException.class, p::validate);

    assertThat(e.getMessage()).contains(ZONE_ID, "is example.test, not other.test");
    assertThat(cf.requestLog()).noneMatch(r -> r.startsWith("PATCH"));
  }

  @Test
  void retriesAfter429HonouringRetryAfter() {
    CloudflareProvider p = provider(EDIT_TOKEN);
    cf.failNext(1, 429);
    long start = System.nanoTime();

    p.point("192.0.2.21");

    assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(950));
    assertThat(cf.content("A", NAME)).contains("192.0.2.21");
    assertThat(cf.requests()).isEqualTo(3); // the throttled list, the list, the PATCH
  }

  @Test
  void retriesTwo500sThenSucceeds() {
    CloudflareProvider p = provider(EDIT_TOKEN);
    cf.failNext(2, 500);

    p.point("192.0.2.22");

    assertThat(cf.content("A", NAME)).contains("192.0.2.22");
    assertThat(cf.requests()).isEqualTo(4);
  }

  @Test
  void givesUpWhenCloudflareKeepsFailingAndLeavesTheRecord() {
    CloudflareProvider p = provider(EDIT_TOKEN);
    cf.failNext(Integer.MAX_VALUE, 500);

    DnsUnavailableException e = refusal(DnsUnavailableException.class, () -> p.point("192.0.2.23"));

    assertThat(e.getMessage()).contains("in 3 attempts", "HTTP 500");
    assertThat(e.retryAfter()).isEmpty();
    assertThat(cf.requests()).isEqualTo(CloudflareProvider.ATTEMPTS);
    cf.failNext(0, 500);
    assertThat(cf.content("A", NAME)).contains(OLD);
  }

  @Test
  void givesUpWhenThrottledAndPassesOnRetryAfter() {
    CloudflareProvider p = provider(EDIT_TOKEN);
    cf.failNext(Integer.MAX_VALUE, 429);

    DnsUnavailableException e = refusal(DnsUnavailableException.class, () -> p.point("192.0.2.24"));

    assertThat(e.retryAfter()).contains(Duration.ofSeconds(1));
    assertThat(e.getMessage()).contains("code 971");
    assertThat(cf.content("A", NAME)).contains(OLD);
  }

  @Test
  void aRequestThatTimesOutIsRetried() {
    CloudflareProvider p = provider(ZONE_ID, EDIT_TOKEN, rec(NAME, ZONE, DnsRecord.Type.A, 60), false, Duration.ofMillis(300));
    cf.stallNext(1);

    p.point("192.0.2.25");

    assertThat(cf.content("A", NAME)).contains("192.0.2.25");
  }

  @Test
  void anAnswerThatIsNotAnEnvelopeIsUnavailable() {
    CloudflareProvider p = provider(EDIT_TOKEN);
    cf.garbleNext(1);

    DnsUnavailableException e = refusal(DnsUnavailableException.class, p::current);

    assertThat(e.getMessage()).contains("not a DNS records API v4 answer", "HTTP 200", "<html>");
    cf.garbleNext(1);
    p.point("192.0.2.26"); // retried
    assertThat(cf.content("A", NAME)).contains("192.0.2.26");
  }

  @Test
  void invalidContentIsRefusedWithCloudflaresReason() {
    DnsConfigException e = refusal(DnsConfigException.class, () -> provider(EDIT_TOKEN).point("not-an-address"));

    assertThat(e.getMessage()).contains("HTTP 400", "code 9005: Content for A record must be a valid IPv4 address.");
    assertThat(cf.requests()).isEqualTo(2);
    assertThat(cf.content("A", NAME)).contains(OLD);
  }

  @Test
  void aTtlCloudflareRefusesNamesTheErrorChain() {
    CloudflareProvider p = provider(EDIT_TOKEN, rec(NAME, ZONE, DnsRecord.Type.A, 30));
    DnsConfigException e = refusal(DnsConfigException.class, () -> p.point("192.0.2.27"));
    assertThat(e.getMessage()).contains("code 1004: DNS Validation Error (code 9021: TTL must be between 60 and 86400 seconds");
    assertThat(cf.content("A", NAME)).contains(OLD);
  }

  @Test
  void theTokenIsNeverShown() {
    List<Throwable> thrown = new ArrayList<>();
    thrown.add(refusal(DnsConfigException.class, provider(UNKNOWN_TOKEN)::current));
    thrown.add(refusal(DnsConfigException.class, provider(READ_TOKEN)::validate));
    thrown.add(refusal(DnsConfigException.class, () -> provider(EDIT_TOKEN).point("300.1.1.1")));
    cf.failNext(Integer.MAX_VALUE, 500);
    thrown.add(refusal(DnsUnavailableException.class, provider(EDIT_TOKEN)::validate));
    cf.failNext(0, 500);
    thrown.add(refusal(DnsConfigException.class, () -> new CloudflareProvider(cf.apiBase(), ZONE_ID, "Bearer " + EDIT_TOKEN,
        rec(NAME, ZONE, DnsRecord.Type.A, 60), false, Duration.ofSeconds(1))));
    assertThat(thrown).hasSize(5)
        .allSatisfy(t -> assertThat(t.getMessage()).doesNotContain(EDIT_TOKEN, READ_TOKEN, UNKNOWN_TOKEN));

    CloudflareProvider p = provider(EDIT_TOKEN);
    assertThat(p.describe()).isEqualTo("cloudflare zone " + ZONE_ID + " at 127.0.0.1").doesNotContain(EDIT_TOKEN);
    assertThat(p.toString()).doesNotContain(EDIT_TOKEN);
  }
}
