package io.bulwark.api;

import static io.bulwark.api.ApiFixture.assertInvalidField;
import static io.bulwark.api.ApiFixture.assertProblem;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.bulwark.api.ApiFixture.Resp;
import io.bulwark.api.ApiFixture.Tenant;
import io.bulwark.core.auth.ApiKey;
import io.bulwark.testkit.PostgresExtension;
import io.bulwark.testkit.TestDatabase;
import io.bulwark.postgres.ApiKeyRepository;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** API keys (401s, revocation, admin endpoints) and the wall between tenants. */
@ExtendWith(PostgresExtension.class)
class AuthAndTenancyTest {
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

  // ---------------------------------------------------------------- 401

  @Test
  void a_request_without_an_Authorization_header_is_refused_with_401() {
    long before = fx.count("SELECT count(*) FROM tasks");

    Resp r = fx.call("POST", "/v1/tasks").json("{\"type\":\"noop\"}").send();

    assertProblem(r, 401);
    assertThat(fx.count("SELECT count(*) FROM tasks")).isEqualTo(before);
  }

  @ParameterizedTest(name = "Authorization: {0}")
  @ValueSource(strings = {"Bearer", "Bearer nope", "Basic dXNlcjpwYXNz", "bwk_0123456789abcdef_x",
      "Bearer bwk_0123456789abcdef_tooShort", "Bearer bwk_UPPERCASE0123456_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"})
  void a_malformed_Authorization_header_is_refused_with_401(String authorization) {
    Resp r = fx.call("GET", "/v1/tasks").header("Authorization", authorization).send();

    assertProblem(r, 401);
  }

  @Test
  void a_well_formed_key_that_was_never_issued_is_refused_with_401() {
    Resp r = fx.call("GET", "/v1/tasks").header("Authorization", "Bearer " + ApiKey.generate().token()).send();

    assertProblem(r, 401);
  }

  @Test
  void a_known_key_id_with_the_wrong_secret_is_refused_with_401() {
    Tenant t = fx.newTenant();
    assertThat(fx.get("/v1/tasks", t).send().status()).isEqualTo(200);
    String wrong = "bwk_" + t.keyId() + "_" + ApiKey.generate().secret();

    Resp r = fx.call("GET", "/v1/tasks").header("Authorization", "Bearer " + wrong).send();

    assertProblem(r, 401);
  }

  @Test
  void a_key_revoked_through_the_admin_api_stops_working_within_1_second() {
    Tenant t = fx.newTenant();
    assertThat(fx.get("/v1/tasks", t).send().status()).isEqualTo(200); // now cached by the server

    Resp revoke = fx.call("DELETE", "/v1/admin/keys/" + t.keyId()).auth(fx.admin).send();

    assertThat(revoke.status()).as("%s", revoke).isEqualTo(204);
    // the auth cache keeps a lookup for at most 1 s; the margin is for the polling requests themselves
    await().atMost(Duration.ofMillis(1500)).pollInterval(Duration.ofMillis(50))
        .untilAsserted(() -> assertProblem(fx.get("/v1/tasks", t).send(), 401));
    assertThat(fx.post("/v1/tasks", t).json("{\"type\":\"noop\"}").send().status()).isEqualTo(401);
    assertThat(fx.taskCount(t)).isZero();
  }

  @Test
  void a_key_revoked_elsewhere_such_as_through_another_api_server_stops_working_within_1_second() {
    Tenant t = fx.newTenant();
    assertThat(fx.get("/v1/tasks", t).send().status()).isEqualTo(200); // now cached by the server

    assertThat(new ApiKeyRepository(fx.db).revoke(t.keyId())).isTrue();

    // the auth cache keeps a lookup for at most 1 s; the margin is for the polling requests themselves
    await().atMost(Duration.ofMillis(1500)).pollInterval(Duration.ofMillis(50))
        .untilAsserted(() -> assertProblem(fx.get("/v1/tasks", t).send(), 401));
  }

  // ---------------------------------------------------------------- tenants

  @Test
  void another_tenants_task_is_not_found_by_get_result_cancel_or_retry_and_is_left_untouched() {
    Tenant owner = fx.newTenant();
    Tenant other = fx.newTenant();
    String id = fx.submit(owner, "{\"type\":\"noop\",\"runAt\":\"2099-01-01T00:00:00Z\"}").path("id").asText();

    assertProblem(fx.get("/v1/tasks/" + id, other).send(), 404);
    assertProblem(fx.get("/v1/tasks/" + id + "?wait=1", other).send(), 404);
    assertProblem(fx.get("/v1/tasks/" + id + "/result", other).send(), 404);
    assertProblem(fx.post("/v1/tasks/" + id + "/cancel", other).send(), 404);
    assertProblem(fx.post("/v1/tasks/" + id + "/retry", other).send(), 404);

    assertThat(fx.task(owner, id).path("state").asText()).isEqualTo("queued");
  }

  @Test
  void another_tenants_dead_task_cannot_be_retried_or_its_cancelled_task_revived() {
    Tenant owner = fx.newTenant();
    Tenant other = fx.newTenant();
    String id = fx.submit(owner, "{\"type\":\"noop\",\"runAt\":\"2099-01-01T00:00:00Z\"}").path("id").asText();
    assertThat(fx.post("/v1/tasks/" + id + "/cancel", owner).send().status()).isEqualTo(200);

    assertProblem(fx.post("/v1/tasks/" + id + "/retry", other).send(), 404);

    assertThat(fx.task(owner, id).path("state").asText()).isEqualTo("cancelled");
  }

  @Test
  void listing_tasks_shows_only_the_callers_own_tasks() {
    Tenant a = fx.newTenant();
    Tenant b = fx.newTenant();
    List<String> aIds = new ArrayList<>();
    for (int i = 0; i < 3; i++) aIds.add(fx.submit(a, "{\"type\":\"noop\",\"runAt\":\"2099-01-01T00:00:00Z\"}").path("id").asText());
    String bId = fx.submit(b, "{\"type\":\"noop\",\"runAt\":\"2099-01-01T00:00:00Z\"}").path("id").asText();

    JsonNode listA = fx.get("/v1/tasks", a).send().json().path("tasks");
    JsonNode listB = fx.get("/v1/tasks", b).send().json().path("tasks");

    List<String> seenA = new ArrayList<>();
    listA.forEach(n -> seenA.add(n.path("id").asText()));
    assertThat(seenA).containsExactlyInAnyOrderElementsOf(aIds);
    assertThat(listB.size()).isEqualTo(1);
    assertThat(listB.get(0).path("id").asText()).isEqualTo(bId);
  }

  // ---------------------------------------------------------------- admin

  @Test
  void an_admin_creates_a_key_that_is_shown_once_and_works_for_its_tenant() {
    String tenant = "created-" + UUID.randomUUID().toString().substring(0, 8);

    Resp created = fx.post("/v1/admin/keys", fx.admin).json("{\"tenant\":\"" + tenant + "\",\"name\":\"ci\"}").send();

    assertThat(created.status()).as("%s", created).isEqualTo(201);
    JsonNode body = created.json();
    String token = body.path("key").asText();
    assertThat(ApiKey.parse(token)).isPresent();
    assertThat(body.path("id").asText()).isEqualTo(ApiKey.parse(token).orElseThrow().id());
    assertThat(body.path("tenant").asText()).isEqualTo(tenant);
    assertThat(body.path("admin").asBoolean(true)).isFalse();

    Tenant t = new Tenant(tenant, body.path("id").asText(), token);
    String id = fx.submit(t, "{\"type\":\"noop\",\"runAt\":\"2099-01-01T00:00:00Z\"}").path("id").asText();
    assertThat(fx.row("SELECT tenant FROM tasks WHERE id = ?", UUID.fromString(id))).containsEntry("tenant", tenant);

    Resp list = fx.get("/v1/admin/keys", fx.admin).send();
    assertThat(list.status()).isEqualTo(200);
    String secret = ApiKey.parse(token).orElseThrow().secret();
    assertThat(list.text()).as("no secret in the key list").doesNotContain(secret).doesNotContain(token);
    // the admin's whole secret (a base64url secret may itself contain '_': what follows the last one is not it)
    assertThat(list.text()).doesNotContain(ApiKey.parse(fx.admin.token()).orElseThrow().secret());
    List<String> ids = new ArrayList<>();
    list.json().path("keys").forEach(k -> {
      assertThat(k.has("key")).as("listed key %s", k).isFalse();
      ids.add(k.path("id").asText());
    });
    assertThat(ids).contains(t.keyId(), fx.admin.keyId());
  }

  @Test
  void the_admin_endpoints_refuse_a_non_admin_key_with_403() {
    Tenant t = fx.newTenant();

    assertProblem(fx.post("/v1/admin/keys", t).json("{\"tenant\":\"x\",\"name\":\"y\"}").send(), 403);
    assertProblem(fx.get("/v1/admin/keys", t).send(), 403);
    assertProblem(fx.call("DELETE", "/v1/admin/keys/" + t.keyId()).auth(t).send(), 403);

    assertThat(fx.get("/v1/tasks", t).send().status()).as("the key was not revoked").isEqualTo(200);
    assertThat(fx.count("SELECT count(*) FROM api_keys WHERE tenant = 'x'")).isZero();
  }

  @Test
  void revoking_an_unknown_key_id_is_answered_404() {
    assertProblem(fx.call("DELETE", "/v1/admin/keys/nosuchkey0000000").auth(fx.admin).send(), 404);
  }

  @Test
  void creating_a_key_without_a_valid_tenant_is_refused_with_422_naming_the_field() {
    long before = fx.count("SELECT count(*) FROM api_keys");

    assertInvalidField(fx.post("/v1/admin/keys", fx.admin).json("{\"name\":\"n\"}").send(), "tenant");
    assertInvalidField(fx.post("/v1/admin/keys", fx.admin).json("{\"tenant\":\"no spaces\",\"name\":\"n\"}").send(), "tenant");
    assertInvalidField(fx.post("/v1/admin/keys", fx.admin).json("{\"tenant\":\"ok\"}").send(), "name");

    assertThat(fx.count("SELECT count(*) FROM api_keys")).isEqualTo(before);
  }
}
