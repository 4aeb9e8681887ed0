package io.bulwark.api;

import static io.bulwark.api.ApiFixture.assertInvalidField;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.bulwark.api.ApiFixture.Resp;
import io.bulwark.api.ApiFixture.Tenant;
import io.bulwark.testkit.PostgresExtension;
import io.bulwark.testkit.TestDatabase;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Idempotency-Key on single submissions and idempotencyKey on batch items. */
@ExtendWith(PostgresExtension.class)
class IdempotencyTest {
  private static final String LATER = "\"runAt\":\"2099-01-01T00:00:00Z\"";
  private static final String BODY = "{\"type\":\"noop\",\"input\":{\"order\":42}," + LATER + "}";

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

  private static Resp submit(Tenant t, String key, String body) {
    return fx.post("/v1/tasks", t).header("Idempotency-Key", key).json(body).send();
  }

  @Test
  void the_same_key_with_the_same_body_replays_the_original_task_with_200_and_Idempotent_Replayed() {
    Tenant t = fx.newTenant();
    String key = UUID.randomUUID().toString();

    Resp first = submit(t, key, BODY);
    Resp second = submit(t, key, BODY);

    assertThat(first.status()).as("%s", first).isEqualTo(202);
    assertThat(first.header("Idempotent-Replayed")).isNull();
    assertThat(second.status()).as("%s", second).isEqualTo(200);
    assertThat(second.header("Idempotent-Replayed")).isEqualTo("true");
    String id = first.json().path("id").asText();
    assertThat(second.json().path("id").asText()).isEqualTo(id);
    assertThat(second.header("Location")).isEqualTo("/v1/tasks/" + id);
    assertThat(fx.taskCount(t)).isEqualTo(1);
  }

  @Test
  void the_same_key_with_a_different_body_is_refused_with_422_and_stores_nothing_more() {
    Tenant t = fx.newTenant();
    String key = UUID.randomUUID().toString();
    assertThat(submit(t, key, BODY).status()).isEqualTo(202);

    Resp other = submit(t, key, BODY.replace("42", "43"));

    assertInvalidField(other, "Idempotency-Key");
    assertThat(fx.taskCount(t)).isEqualTo(1);
  }

  @Test
  void twenty_concurrent_retries_with_the_same_key_create_exactly_one_task() {
    Tenant t = fx.newTenant();
    String key = UUID.randomUUID().toString();
    List<CompletableFuture<Resp>> calls = new ArrayList<>();

    for (int i = 0; i < 20; i++) {
      calls.add(fx.post("/v1/tasks", t).header("Idempotency-Key", key).json(BODY).sendAsync());
    }
    List<Resp> responses = calls.stream().map(f -> f.orTimeout(30, TimeUnit.SECONDS).join()).toList();

    assertThat(responses).extracting(Resp::status).as("%s", responses).containsOnly(202, 200);
    assertThat(responses).filteredOn(r -> r.status() == 202).hasSize(1);
    assertThat(responses).extracting(r -> r.json().path("id").asText()).containsOnly(
        responses.get(0).json().path("id").asText());
    assertThat(fx.taskCount(t)).isEqualTo(1);
  }

  @Test
  void concurrent_retries_of_several_keys_at_once_create_one_task_per_key_and_never_fail() {
    Tenant t = fx.newTenant();
    List<String> keys = List.of("k-a-" + UUID.randomUUID(), "k-b-" + UUID.randomUUID(), "k-c-" + UUID.randomUUID());
    List<CompletableFuture<Resp>> calls = new ArrayList<>();

    for (int round = 0; round < 15; round++) {
      for (int k = 0; k < keys.size(); k++) {
        // alternate the order so that concurrent group commits see the keys in different orders
        String key = keys.get(round % 2 == 0 ? k : keys.size() - 1 - k);
        calls.add(fx.post("/v1/tasks", t).header("Idempotency-Key", key).json(BODY.replace("42", "\"" + key.substring(0, 3) + "\""))
            .sendAsync());
      }
    }
    List<Resp> responses = calls.stream().map(f -> f.orTimeout(30, TimeUnit.SECONDS).join()).toList();

    assertThat(responses).extracting(Resp::status).as("%s", responses).containsOnly(202, 200);
    assertThat(responses).filteredOn(r -> r.status() == 202).hasSize(3);
    assertThat(fx.taskCount(t)).isEqualTo(3);
  }

  @Test
  void concurrent_batches_carrying_the_same_item_keys_in_opposite_orders_never_fail() {
    final int ROUNDS = 8;
    final int ITEMS = 500;
    Tenant t = fx.newTenant();
    List<Resp> responses = new ArrayList<>();

    for (int round = 0; round < ROUNDS; round++) {
      List<String> keys = new ArrayList<>();
      for (int k = 0; k < ITEMS; k++) keys.add("r" + round + "-k" + k + "-" + UUID.randomUUID());
      StringBuilder forward = new StringBuilder("{\"tasks\":[");
      StringBuilder backward = new StringBuilder("{\"tasks\":[");
      for (int k = 0; k < ITEMS; k++) {
        forward.append(k > 0 ? "," : "").append("{\"type\":\"noop\",\"idempotencyKey\":\"").append(keys.get(k))
            .append("\"," + LATER + "}");
        backward.append(k > 0 ? "," : "").append("{\"type\":\"noop\",\"idempotencyKey\":\"")
            .append(keys.get(ITEMS - 1 - k)).append("\"," + LATER + "}");
      }
      CompletableFuture<Resp> a = fx.post("/v1/tasks/batch", t).json(forward + "]}").sendAsync();
      CompletableFuture<Resp> b = fx.post("/v1/tasks/batch", t).json(backward + "]}").sendAsync();
      responses.add(a.orTimeout(30, TimeUnit.SECONDS).join());
      responses.add(b.orTimeout(30, TimeUnit.SECONDS).join());
    }

    assertThat(responses).filteredOn(r -> r.status() != 202 && r.status() != 200).as("failed batches").isEmpty();
    assertThat(fx.taskCount(t)).isEqualTo(ROUNDS * ITEMS);
  }

  @Test
  void idempotency_keys_belong_to_a_tenant_so_another_tenant_may_use_the_same_key() {
    Tenant a = fx.newTenant();
    Tenant b = fx.newTenant();
    String key = UUID.randomUUID().toString();

    Resp ra = submit(a, key, BODY);
    Resp rb = submit(b, key, BODY);

    assertThat(ra.status()).isEqualTo(202);
    assertThat(rb.status()).as("%s", rb).isEqualTo(202);
    assertThat(rb.json().path("id").asText()).isNotEqualTo(ra.json().path("id").asText());
  }

  @Test
  void a_binary_submission_is_replayed_for_the_same_bytes_and_query_and_refused_for_other_settings() {
    Tenant t = fx.newTenant();
    String key = UUID.randomUUID().toString();
    byte[] data = "some binary payload".getBytes(StandardCharsets.UTF_8);

    Resp first = fx.post("/v1/tasks?type=sha256&runAt=2099-01-01T00:00:00Z", t).header("Idempotency-Key", key)
        .body(data, "application/octet-stream").send();
    Resp again = fx.post("/v1/tasks?type=sha256&runAt=2099-01-01T00:00:00Z", t).header("Idempotency-Key", key)
        .body(data, "application/octet-stream").send();
    Resp otherPriority = fx.post("/v1/tasks?type=sha256&runAt=2099-01-01T00:00:00Z&priority=5", t)
        .header("Idempotency-Key", key).body(data, "application/octet-stream").send();

    assertThat(first.status()).as("%s", first).isEqualTo(202);
    assertThat(again.status()).as("%s", again).isEqualTo(200);
    assertThat(again.json().path("id").asText()).isEqualTo(first.json().path("id").asText());
    assertInvalidField(otherPriority, "Idempotency-Key");
    assertThat(fx.taskCount(t)).isEqualTo(1);
    assertNoOrphanedBlobs();
  }

  @Test
  void batch_items_with_an_idempotencyKey_are_replayed_when_the_batch_is_sent_again() {
    Tenant t = fx.newTenant();
    String k1 = UUID.randomUUID().toString();
    String k2 = UUID.randomUUID().toString();
    String batch = "{\"tasks\":[{\"type\":\"noop\",\"idempotencyKey\":\"" + k1 + "\",\"runAt\":\"2099-01-01T00:00:00Z\"},"
        + "{\"type\":\"noop\",\"runAt\":\"2099-01-01T00:00:00Z\"},"
        + "{\"type\":\"echo\",\"input\":1,\"idempotencyKey\":\"" + k2 + "\",\"runAt\":\"2099-01-01T00:00:00Z\"}]}";

    Resp first = fx.post("/v1/tasks/batch", t).json(batch).send();
    Resp second = fx.post("/v1/tasks/batch", t).json(batch).send();

    assertThat(first.status()).as("%s", first).isEqualTo(202);
    assertThat(second.status()).as("%s", second).isIn(200, 202);
    JsonNode a = first.json().path("tasks");
    JsonNode b = second.json().path("tasks");
    assertThat(b.size()).isEqualTo(3);
    assertThat(b.get(0).path("id").asText()).isEqualTo(a.get(0).path("id").asText());
    assertThat(b.get(1).path("id").asText()).as("the item without a key is new").isNotEqualTo(a.get(1).path("id").asText());
    assertThat(b.get(2).path("id").asText()).isEqualTo(a.get(2).path("id").asText());
    assertThat(fx.taskCount(t)).isEqualTo(4);
  }

  @Test
  void a_batch_reusing_an_item_key_for_different_content_is_refused_with_422_and_stores_nothing() {
    Tenant t = fx.newTenant();
    String key = UUID.randomUUID().toString();
    Resp first = fx.post("/v1/tasks/batch", t)
        .json("{\"tasks\":[{\"type\":\"noop\",\"input\":1,\"idempotencyKey\":\"" + key + "\"}]}").send();
    assertThat(first.status()).isEqualTo(202);

    Resp conflict = fx.post("/v1/tasks/batch", t).json("{\"tasks\":[{\"type\":\"noop\"},"
        + "{\"type\":\"noop\",\"input\":2,\"idempotencyKey\":\"" + key + "\"}]}").send();

    assertInvalidField(conflict, "tasks[1].idempotencyKey");
    assertThat(fx.taskCount(t)).as("the other item of the refused batch is not stored either").isEqualTo(1);
  }

  @Test
  void a_replayed_or_refused_submission_with_a_large_input_leaves_no_orphaned_blob() {
    Tenant t = fx.newTenant();
    String key = UUID.randomUUID().toString();
    String big = "{\"type\":\"echo\",\"input\":\"" + "x".repeat(70_000) + "\"," + LATER + "}";
    String itemKey = UUID.randomUUID().toString();
    String batch = "{\"tasks\":[{\"type\":\"echo\",\"input\":\"" + "y".repeat(70_000) + "\",\"idempotencyKey\":\""
        + itemKey + "\"," + LATER + "}]}";

    assertThat(submit(t, key, big).status()).isEqualTo(202);
    assertThat(submit(t, key, big).status()).isEqualTo(200);
    assertInvalidField(submit(t, key, big.replace("xxx", "xxy")), "Idempotency-Key");
    assertThat(fx.post("/v1/tasks/batch", t).json(batch).send().status()).isEqualTo(202);
    assertThat(fx.post("/v1/tasks/batch", t).json(batch).send().status()).isIn(200, 202);
    assertInvalidField(fx.post("/v1/tasks/batch", t).json(batch.replace("yyy", "yyz")).send(), "tasks[0].idempotencyKey");

    assertThat(fx.taskCount(t)).isEqualTo(2);
    assertNoOrphanedBlobs();
  }

  /** Every blob in the store belongs to a task that exists. */
  private static void assertNoOrphanedBlobs() {
    for (String blobKey : fx.blobs.list("tasks/")) {
      UUID task = UUID.fromString(blobKey.split("/")[1]);
      assertThat(fx.count("SELECT count(*) FROM tasks WHERE id = ?", task)).as("task of blob %s", blobKey).isEqualTo(1);
    }
  }

  @Test
  void an_Idempotency_Key_header_on_a_batch_is_refused_with_422() {
    Tenant t = fx.newTenant();

    Resp r = fx.post("/v1/tasks/batch", t).header("Idempotency-Key", "abc").json("{\"tasks\":[{\"type\":\"noop\"}]}")
        .send();

    assertInvalidField(r, "Idempotency-Key");
    assertThat(fx.taskCount(t)).isZero();
  }

  @Test
  void an_Idempotency_Key_that_is_not_1_to_255_visible_ascii_characters_is_refused_with_422() {
    Tenant t = fx.newTenant();

    assertInvalidField(submit(t, "x".repeat(256), BODY), "Idempotency-Key");
    assertInvalidField(submit(t, "has space", BODY), "Idempotency-Key");
    assertThat(fx.taskCount(t)).isZero();
  }
}
