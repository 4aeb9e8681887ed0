package io.bulwark.api;

import static io.bulwark.api.ApiFixture.JSON;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.bulwark.api.ApiFixture.Resp;
import io.bulwark.api.ApiFixture.Tenant;
import io.bulwark.testkit.PostgresExtension;
import io.bulwark.testkit.TestDatabase;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.NullSource;
import org.junit.jupiter.params.provider.ValueSource;

/** POST /v1/tasks and POST /v1/tasks/batch: what is answered and what is stored. */
@ExtendWith(PostgresExtension.class)
class SubmitTest {
  @TempDir static Path blobDir;
  static ApiFixture fx;

  @BeforeAll
  static void start(TestDatabase db) {
    fx = ApiFixture.start(db, blobDir);
    fx.startWorker();
  }

  @AfterAll
  static void stop() {
    if (fx != null) fx.close();
  }

  @Test
  void a_submitted_task_is_answered_202_with_the_task_object_and_a_Location_and_its_row_is_already_committed() {
    Tenant t = fx.newTenant();
    Instant before = Instant.now().minusSeconds(5);

    Resp r = fx.post("/v1/tasks", t).json("{\"type\":\"noop\"}").send();

    assertThat(r.status()).as("%s", r).isEqualTo(202);
    assertThat(r.contentType()).startsWith("application/json");
    JsonNode task = r.json();
    String id = task.path("id").asText();
    assertThat(UUID.fromString(id)).isNotNull();
    assertThat(r.header("Location")).isEqualTo("/v1/tasks/" + id);
    assertThat(task.path("type").asText()).isEqualTo("noop");
    assertThat(task.path("state").asText()).isEqualTo("queued");
    assertThat(task.path("attempts").asInt(-1)).isZero();
    assertThat(task.path("maxAttempts").asInt()).isEqualTo(5);
    assertThat(task.path("priority").isInt()).isTrue();
    assertThat(task.path("priority").asInt()).isZero();
    assertThat(Instant.parse(task.path("createdAt").asText())).isAfter(before);
    for (String f : new String[] {"startedAt", "finishedAt", "result", "error"}) {
      assertThat(task.has(f)).as("field %s present in %s", f, task).isTrue();
      assertThat(task.get(f).isNull()).as("field %s is null in %s", f, task).isTrue();
    }
    // The 202 is sent only after the commit: the row is visible to any other connection right away.
    Map<String, Object> row = fx.row("SELECT tenant, type FROM tasks WHERE id = ?", UUID.fromString(id));
    assertThat(row).containsEntry("tenant", t.name()).containsEntry("type", "noop");
  }

  @Test
  void the_optional_fields_of_a_submission_are_stored_and_echoed_in_the_task_object() {
    Tenant t = fx.newTenant();

    JsonNode task = fx.submit(t, "{\"type\":\"echo\",\"input\":{\"x\":[1,2]},\"priority\":7,\"maxAttempts\":2,"
        + "\"timeoutSeconds\":30,\"runAt\":\"2099-01-01T00:00:00Z\"}");

    assertThat(task.path("priority").asInt()).isEqualTo(7);
    assertThat(task.path("maxAttempts").asInt()).isEqualTo(2);
    assertThat(task.path("timeoutSeconds").asInt()).isEqualTo(30);
    assertThat(Instant.parse(task.path("runAt").asText())).isEqualTo(Instant.parse("2099-01-01T00:00:00Z"));
    Map<String, Object> row = fx.row("SELECT input_json, priority, max_attempts, timeout_seconds FROM tasks WHERE id = ?",
        UUID.fromString(task.path("id").asText()));
    assertThat(row).containsEntry("input_json", "{\"x\":[1,2]}").containsEntry("priority", 7)
        .containsEntry("max_attempts", 2).containsEntry("timeout_seconds", 30);
  }

  @Test
  void a_json_input_of_many_tokens_within_the_limit_is_accepted() {
    Tenant t = fx.newTenant();
    StringBuilder input = new StringBuilder("[");
    for (int i = 0; i < 90_000; i++) input.append(i == 0 ? "1" : ",1");
    JsonNode task = fx.submit(t, "{\"type\":\"echo\",\"input\":" + input.append("]") + "}");
    assertThat(task.path("state").asText()).isEqualTo("queued");
  }

  @ParameterizedTest(name = "runAt {0}")
  @ValueSource(strings = {"1970-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "-0100-01-01T00:00:00Z"})
  void a_run_at_in_the_past_is_due_now_so_it_cannot_jump_the_queue_or_fail_a_group_commit(String past) {
    // regression: year 0000 answered 500, and its refusal by PostgreSQL failed every request in its group commit
    Tenant t = fx.newTenant();
    Instant before = Instant.now().minusSeconds(5);

    JsonNode task = fx.submit(t, "{\"type\":\"noop\",\"runAt\":\"" + past + "\"}");

    assertThat(Instant.parse(task.path("runAt").asText())).isAfter(before).isBeforeOrEqualTo(Instant.now().plusSeconds(5));
  }

  @ParameterizedTest(name = "Content-Type: {0}")
  @NullSource
  @ValueSource(strings = {"application/x-www-form-urlencoded", "application/json; charset=utf-8"})
  void a_body_without_a_content_type_or_with_curls_default_form_type_is_read_as_json(String contentType) {
    Tenant t = fx.newTenant();

    Resp r = fx.post("/v1/tasks", t)
        .body("{\"type\":\"echo\",\"input\":{\"hello\":\"world\"}}".getBytes(StandardCharsets.UTF_8), contentType).send();

    assertThat(r.status()).as("%s", r).isEqualTo(202);
    JsonNode done = fx.awaitState(t, r.json().path("id").asText(), "succeeded");
    assertThat(done.path("result")).isEqualTo(JSON.createObjectNode().put("hello", "world"));
  }

  @ParameterizedTest(name = "{0} bytes")
  @ValueSource(ints = {16, 200_000})
  void a_binary_body_is_stored_in_blob_storage_and_sha256_hashes_its_raw_bytes(int size) throws Exception {
    Tenant t = fx.newTenant();
    byte[] data = new byte[size];
    new Random(size).nextBytes(data);

    Resp r = fx.post("/v1/tasks?type=sha256&priority=9&maxAttempts=2", t).body(data, "application/octet-stream").send();

    assertThat(r.status()).as("%s", r).isEqualTo(202);
    JsonNode task = r.json();
    assertThat(task.path("type").asText()).isEqualTo("sha256");
    assertThat(task.path("priority").asInt()).isEqualTo(9);
    assertThat(task.path("maxAttempts").asInt()).isEqualTo(2);
    String id = task.path("id").asText();
    Map<String, Object> row = fx.row(
        "SELECT input_json, input_blob, input_size, input_content_type FROM tasks WHERE id = ?", UUID.fromString(id));
    assertThat(row.get("input_json")).isNull();
    assertThat(row).containsEntry("input_size", (long) size).containsEntry("input_content_type", "application/octet-stream");
    assertThat(fx.blobs.exists((String) row.get("input_blob"))).isTrue();

    String expected = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    JsonNode done = fx.awaitState(t, id, "succeeded");
    assertThat(done.path("result").path("sha256").asText()).isEqualTo(expected);
    Resp result = fx.get("/v1/tasks/" + id + "/result", t).send();
    assertThat(result.status()).isEqualTo(200);
    assertThat(result.contentType()).startsWith("application/json");
    assertThat(result.json().path("sha256").asText()).isEqualTo(expected);
  }

  @Test
  void the_result_endpoint_answers_a_binary_result_as_its_raw_bytes_with_its_content_type() {
    Tenant t = fx.newTenant();
    byte[] data = new byte[5000];
    new Random(7).nextBytes(data);

    Resp r = fx.post("/v1/tasks?type=echo", t).body(data, "image/png").send();

    assertThat(r.status()).as("%s", r).isEqualTo(202);
    String id = r.json().path("id").asText();
    JsonNode done = fx.awaitState(t, id, "succeeded");
    assertThat(done.path("result").isNull()).isTrue();
    assertThat(done.path("resultUrl").asText()).isEqualTo("/v1/tasks/" + id + "/result");
    assertThat(done.path("resultSize").asLong()).isEqualTo(5000);
    assertThat(done.path("resultContentType").asText()).isEqualTo("image/png");
    Resp result = fx.get("/v1/tasks/" + id + "/result", t).send();
    assertThat(result.status()).isEqualTo(200);
    assertThat(result.contentType()).isEqualTo("image/png");
    assertThat(result.body()).isEqualTo(data);
  }

  @Test
  void a_json_input_over_64_KiB_goes_to_blob_storage_and_echo_still_returns_it() throws Exception {
    Tenant t = fx.newTenant();
    String big = "x".repeat(70_000);
    String input = "{\"data\":\"" + big + "\",\"n\":[1,2,3]}";

    JsonNode task = fx.submit(t, "{\"type\":\"echo\",\"input\":" + input + "}");

    String id = task.path("id").asText();
    Map<String, Object> row = fx.row("SELECT input_json, input_blob, input_size FROM tasks WHERE id = ?",
        UUID.fromString(id));
    assertThat(row.get("input_json")).as("inline input").isNull();
    assertThat((Long) row.get("input_size")).isGreaterThan(64 * 1024L);
    assertThat(fx.blobs.exists((String) row.get("input_blob"))).isTrue();

    JsonNode done = fx.awaitState(t, id, "succeeded");
    assertThat(done.path("resultUrl").asText()).isEqualTo("/v1/tasks/" + id + "/result");
    Resp result = fx.get("/v1/tasks/" + id + "/result", t).send();
    assertThat(result.status()).isEqualTo(200);
    assertThat(result.contentType()).startsWith("application/json");
    assertThat(result.json()).isEqualTo(JSON.readTree(input));
  }

  @Test
  void a_batch_is_answered_202_with_its_tasks_in_order_and_all_of_them_are_stored() {
    Tenant t = fx.newTenant();
    StringBuilder body = new StringBuilder("{\"tasks\":[");
    for (int i = 0; i < 10; i++) {
      if (i > 0) body.append(',');
      body.append("{\"type\":\"noop\",\"priority\":").append(i).append(",\"runAt\":\"2099-01-01T00:00:00Z\"}");
    }
    body.append("]}");

    Resp r = fx.post("/v1/tasks/batch", t).json(body.toString()).send();

    assertThat(r.status()).as("%s", r).isEqualTo(202);
    JsonNode tasks = r.json().path("tasks");
    assertThat(tasks.size()).isEqualTo(10);
    for (int i = 0; i < 10; i++) {
      assertThat(tasks.get(i).path("priority").asInt()).isEqualTo(i);
      assertThat(tasks.get(i).path("state").asText()).isEqualTo("queued");
    }
    assertThat(fx.taskCount(t)).isEqualTo(10);
  }

  @Test
  void a_batch_of_1000_tasks_is_accepted_in_one_request() {
    Tenant t = fx.newTenant();
    StringBuilder body = new StringBuilder("{\"tasks\":[");
    for (int i = 0; i < 1000; i++) body.append(i > 0 ? "," : "").append("{\"type\":\"noop\",\"runAt\":\"2099-01-01T00:00:00Z\"}");
    body.append("]}");

    Resp r = fx.post("/v1/tasks/batch", t).json(body.toString()).send();

    assertThat(r.status()).as("%s", r).isEqualTo(202);
    assertThat(r.json().path("tasks").size()).isEqualTo(1000);
    assertThat(fx.taskCount(t)).isEqualTo(1000);
  }
}
