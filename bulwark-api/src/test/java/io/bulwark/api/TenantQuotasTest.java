package io.bulwark.api;

import static io.bulwark.api.ApiFixture.assertInvalidField;
import static io.bulwark.api.ApiFixture.assertProblem;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.bulwark.api.ApiFixture.Resp;
import io.bulwark.api.ApiFixture.Tenant;
import io.bulwark.testkit.PostgresExtension;
import io.bulwark.testkit.TestDatabase;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Per-tenant quotas (queued tasks, stored bytes) and retention: set by an admin, enforced, shown in /v1/usage. */
@ExtendWith(PostgresExtension.class)
class TenantQuotasTest {
  private static final String LATER = "\"runAt\":\"2099-01-01T00:00:00Z\"";

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

  static Resp put(Tenant as, String tenant, String json) {
    return fx.call("PUT", "/v1/admin/tenants/" + tenant).auth(as).json(json).send();
  }

  static Resp submitLater(Tenant t, String input) {
    return fx.post("/v1/tasks", t).json("{\"type\":\"noop\",\"input\":" + input + "," + LATER + "}").send();
  }

  @Test
  void a_tenant_at_its_queued_quota_gets_429_and_another_tenant_does_not_notice() {
    Tenant hog = fx.newTenant();
    Tenant other = fx.newTenant();
    Resp set = put(fx.admin, hog.name(), "{\"maxQueued\": 3}");
    assertThat(set.status()).as("%s", set).isEqualTo(200);
    assertThat(set.json().path("own").path("maxQueued").asLong()).isEqualTo(3);
    assertThat(set.json().path("own").path("retentionSeconds").isNull()).isTrue();
    assertThat(set.json().path("effective").path("retentionSeconds").asLong()).as("the default: 7 days").isEqualTo(604_800);

    for (int i = 0; i < 3; i++) assertThat(submitLater(hog, "{}").status()).isEqualTo(202);
    Resp refused = submitLater(hog, "{}");
    JsonNode p = assertProblem(refused, 429);
    assertThat(p.path("type").asText()).endsWith("/quota-exceeded");
    assertThat(p.path("quota").asText()).isEqualTo("queued");
    assertThat(p.path("limit").asLong()).isEqualTo(3);
    assertThat(refused.header("Retry-After")).isEqualTo(Integer.toString(TenantQuotas.QUEUED_RETRY_AFTER_SECONDS));
    assertThat(fx.taskCount(hog)).as("nothing stored for the refused one").isEqualTo(3);
    Resp batch = fx.post("/v1/tasks/batch", hog).json("{\"tasks\":[{\"type\":\"noop\"," + LATER + "}]}").send();
    assertProblem(batch, 429);

    assertThat(submitLater(other, "{}").status()).as("another tenant").isEqualTo(202);

    JsonNode usage = fx.get("/v1/usage", hog).send().json();
    assertThat(usage.path("quotas").path("queued").path("used").asLong()).isEqualTo(3);
    assertThat(usage.path("quotas").path("queued").path("limit").asLong()).isEqualTo(3);
    assertThat(usage.path("quotas").path("retentionSeconds").asLong()).isEqualTo(604_800);

    // raised: admitted again (the server reads the new limit within a second)
    assertThat(put(fx.admin, hog.name(), "{\"maxQueued\": 10}").status()).isEqualTo(200);
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(5)).pollInterval(java.time.Duration.ofMillis(100))
        .until(() -> submitLater(hog, "{}").status() == 202);
  }

  @Test
  void a_quota_lowered_for_a_tenant_far_below_it_applies_at_once() {
    // far below the default quota, the tenant's holdings are read only every 10 s; a change forgets the read
    Tenant t = fx.newTenant();
    assertThat(submitLater(t, "{}").status()).isEqualTo(202);
    assertThat(put(fx.admin, t.name(), "{\"maxQueued\": 1}").status()).isEqualTo(200);
    assertProblem(submitLater(t, "{}"), 429);
  }

  @Test
  void a_tenant_at_its_storage_quota_gets_429_naming_it() {
    Tenant t = fx.newTenant();
    assertThat(put(fx.admin, t.name(), "{\"maxStoredBytes\": 300}").status()).isEqualTo(200);
    String input = "\"" + "x".repeat(100) + "\"";
    assertThat(submitLater(t, input).status()).isEqualTo(202);
    assertThat(submitLater(t, input).status()).isEqualTo(202);
    JsonNode p = assertProblem(submitLater(t, input), 429);
    assertThat(p.path("quota").asText()).isEqualTo("storedBytes");
    assertThat(p.path("detail").asText()).contains("stored", "maxStoredBytes");
    fx.server.flushUsage();
    JsonNode usage = fx.get("/v1/usage", t).send().json();
    assertThat(usage.path("quotas").path("storedBytes").path("used").asLong()).as("two inputs of 102 bytes").isEqualTo(204);
    assertThat(usage.path("totals").path("bytesStored").asLong()).isEqualTo(204);
  }

  @Test
  void only_an_admin_sets_quotas_and_bad_values_are_refused_by_field() {
    Tenant t = fx.newTenant();
    assertProblem(put(t, t.name(), "{\"maxQueued\": 5}"), 403);
    assertInvalidField(put(fx.admin, t.name(), "{\"retentionSeconds\": 3600}"), "retentionSeconds");
    assertInvalidField(put(fx.admin, t.name(), "{\"maxQueued\": -1}"), "maxQueued");
    assertInvalidField(put(fx.admin, t.name(), "{\"maxQueued\": \"many\"}"), "maxQueued");
    assertInvalidField(put(fx.admin, t.name(), "{\"maxQueud\": 5}"), "maxQueud");
    assertInvalidField(put(fx.admin, "*", "{\"maxQueued\": 5}"), "maxStoredBytes");
    assertInvalidField(put(fx.admin, "bad%20name", "{}"), "tenant");
    JsonNode got = fx.get("/v1/admin/tenants/" + t.name(), fx.admin).send().json();
    assertThat(got.path("own").path("maxQueued").isNull()).as("nothing was set").isTrue();
    assertThat(got.path("effective").path("maxQueued").asLong()).isEqualTo(1_000_000);
  }
}
