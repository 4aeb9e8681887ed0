package io.bulwark.api;

import static io.bulwark.api.ApiFixture.JSON;
import static io.bulwark.api.ApiFixture.assertInvalidField;
import static io.bulwark.api.ApiFixture.assertProblem;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.bulwark.api.ApiFixture.Resp;
import io.bulwark.api.ApiFixture.Tenant;
import io.bulwark.testkit.PostgresExtension;
import io.bulwark.testkit.TestDatabase;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Reading, long-polling, listing, cancelling and retrying tasks, with a worker running them. */
@ExtendWith(PostgresExtension.class)
class TaskLifecycleTest {
  private static final String LATER = "\"runAt\":\"2099-01-01T00:00:00Z\"";

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

  private static String submit(Tenant t, String json) {
    return fx.submit(t, json).path("id").asText();
  }

  // ---------------------------------------------------------------- long poll

  @Test
  void a_long_poll_answers_as_soon_as_the_task_finishes_well_before_the_wait() {
    Tenant t = fx.newTenant();
    String id = submit(t, "{\"type\":\"sleep\",\"input\":{\"ms\":300}}");
    long t0 = System.nanoTime();

    Resp r = fx.get("/v1/tasks/" + id + "?wait=20", t).send();

    Duration took = Duration.ofNanos(System.nanoTime() - t0);
    assertThat(r.status()).as("%s", r).isEqualTo(200);
    JsonNode task = r.json();
    assertThat(task.path("state").asText()).isEqualTo("succeeded");
    assertThat(task.path("result")).isEqualTo(JSON.createObjectNode().put("slept", 300));
    assertThat(took).isLessThan(Duration.ofSeconds(5));
  }

  @Test
  void a_long_poll_on_a_task_that_does_not_finish_answers_its_current_state_after_the_wait() {
    Tenant t = fx.newTenant();
    String id = submit(t, "{\"type\":\"noop\"," + LATER + "}");
    long t0 = System.nanoTime();

    Resp r = fx.get("/v1/tasks/" + id + "?wait=1", t).send();

    Duration took = Duration.ofNanos(System.nanoTime() - t0);
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.json().path("state").asText()).isEqualTo("queued");
    assertThat(took).isBetween(Duration.ofMillis(900), Duration.ofSeconds(5));
  }

  @Test
  void a_long_poll_on_a_finished_task_answers_at_once() {
    Tenant t = fx.newTenant();
    String id = submit(t, "{\"type\":\"noop\"}");
    fx.awaitState(t, id, "succeeded");
    long t0 = System.nanoTime();

    Resp r = fx.get("/v1/tasks/" + id + "?wait=30", t).send();

    assertThat(r.status()).isEqualTo(200);
    assertThat(r.json().path("state").asText()).isEqualTo("succeeded");
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(2));
  }

  @ParameterizedTest(name = "wait={0}")
  @ValueSource(strings = {"61", "3600", "-1", "soon", "1.5"})
  void a_wait_that_is_not_0_to_60_seconds_is_refused_with_422_naming_wait(String wait) {
    Tenant t = fx.newTenant();
    String queued = submit(t, "{\"type\":\"noop\"," + LATER + "}");
    String finished = submit(t, "{\"type\":\"noop\"}");
    fx.awaitState(t, finished, "succeeded");

    assertInvalidField(fx.get("/v1/tasks/" + queued + "?wait=" + wait, t).send(), "wait");
    assertInvalidField(fx.get("/v1/tasks/" + finished + "?wait=" + wait, t).send(), "wait");
  }

  // ---------------------------------------------------------------- results

  @Test
  void a_finished_task_carries_its_result_and_times_and_its_result_endpoint_answers_the_raw_json() {
    Tenant t = fx.newTenant();
    String id = submit(t, "{\"type\":\"echo\",\"input\":{\"a\":[1,\"two\",null]}}");

    JsonNode task = fx.awaitState(t, id, "succeeded");

    assertThat(task.path("attempts").asInt()).isEqualTo(1);
    assertThat(task.path("startedAt").isTextual()).isTrue();
    assertThat(task.path("finishedAt").isTextual()).isTrue();
    assertThat(task.path("error").isNull()).isTrue();
    assertThat(task.path("result").toString()).isEqualTo("{\"a\":[1,\"two\",null]}");
    Resp result = fx.get("/v1/tasks/" + id + "/result", t).send();
    assertThat(result.status()).isEqualTo(200);
    assertThat(result.contentType()).startsWith("application/json");
    assertThat(result.text()).isEqualTo("{\"a\":[1,\"two\",null]}");
  }

  @Test
  void the_result_of_a_task_without_one_yet_is_a_404_problem() {
    Tenant t = fx.newTenant();
    String id = submit(t, "{\"type\":\"noop\"," + LATER + "}");

    JsonNode p = assertProblem(fx.get("/v1/tasks/" + id + "/result", t).send(), 404);

    assertThat(p.path("type").asText()).endsWith("/no-result");
  }

  // ---------------------------------------------------------------- listing

  @Test
  void listing_pages_through_all_tasks_with_the_next_cursor_and_filters_by_state() {
    Tenant t = fx.newTenant();
    List<String> created = new ArrayList<>();
    for (int i = 0; i < 5; i++) created.add(submit(t, "{\"type\":\"noop\"," + LATER + "}"));
    assertThat(fx.post("/v1/tasks/" + created.get(2) + "/cancel", t).send().status()).isEqualTo(200);

    List<String> seen = new ArrayList<>();
    List<Integer> pageSizes = new ArrayList<>();
    String after = null;
    for (int page = 0; page < 10; page++) {
      Resp r = fx.get("/v1/tasks?limit=2" + (after == null ? "" : "&after=" + after), t).send();
      assertThat(r.status()).as("%s", r).isEqualTo(200);
      JsonNode body = r.json();
      body.path("tasks").forEach(n -> seen.add(n.path("id").asText()));
      pageSizes.add(body.path("tasks").size());
      assertThat(body.has("next")).isTrue();
      if (body.path("next").isNull()) break;
      after = body.path("next").asText();
    }

    assertThat(seen).as("pages %s", pageSizes).doesNotHaveDuplicates().containsExactlyInAnyOrderElementsOf(created);
    assertThat(seen).isSorted();
    assertThat(pageSizes.subList(0, 2)).containsExactly(2, 2);

    JsonNode cancelled = fx.get("/v1/tasks?state=cancelled", t).send().json().path("tasks");
    assertThat(cancelled.size()).isEqualTo(1);
    assertThat(cancelled.get(0).path("id").asText()).isEqualTo(created.get(2));
    assertThat(fx.get("/v1/tasks?state=queued", t).send().json().path("tasks").size()).isEqualTo(4);
    assertThat(fx.get("/v1/tasks?state=succeeded", t).send().json().path("tasks").size()).isZero();
  }

  // ---------------------------------------------------------------- cancel and retry

  @Test
  void cancelling_a_queued_task_answers_200_with_it_cancelled_and_cancelling_again_409() {
    Tenant t = fx.newTenant();
    String id = submit(t, "{\"type\":\"noop\"," + LATER + "}");

    Resp r = fx.post("/v1/tasks/" + id + "/cancel", t).send();

    assertThat(r.status()).as("%s", r).isEqualTo(200);
    assertThat(r.json().path("state").asText()).isEqualTo("cancelled");
    assertThat(r.json().path("finishedAt").isTextual()).isTrue();
    assertThat(fx.task(t, id).path("state").asText()).isEqualTo("cancelled");
    assertThat(assertProblem(fx.post("/v1/tasks/" + id + "/cancel", t).send(), 409).path("state").asText())
        .isEqualTo("cancelled");
  }

  @Test
  void cancelling_a_running_task_answers_200_and_it_stays_cancelled() {
    Tenant t = fx.newTenant();
    String id = submit(t, "{\"type\":\"sleep\",\"input\":{\"ms\":3000}}");
    fx.awaitState(t, id, "running");

    Resp r = fx.post("/v1/tasks/" + id + "/cancel", t).send();

    assertThat(r.status()).as("%s", r).isEqualTo(200);
    assertThat(r.json().path("state").asText()).isEqualTo("cancelled");
    assertThat(fx.get("/v1/tasks/" + id + "?wait=1", t).send().json().path("state").asText()).isEqualTo("cancelled");
  }

  @Test
  void cancelling_a_succeeded_task_is_refused_with_409() {
    Tenant t = fx.newTenant();
    String id = submit(t, "{\"type\":\"noop\"}");
    fx.awaitState(t, id, "succeeded");

    JsonNode p = assertProblem(fx.post("/v1/tasks/" + id + "/cancel", t).send(), 409);

    assertThat(p.path("state").asText()).isEqualTo("succeeded");
    assertThat(fx.task(t, id).path("state").asText()).isEqualTo("succeeded");
  }

  @Test
  void a_task_that_fails_its_only_attempt_is_dead_and_retrying_it_answers_200_queued_with_attempts_reset() {
    Tenant t = fx.newTenant();
    String id = submit(t, "{\"type\":\"fail\",\"maxAttempts\":1}");
    JsonNode dead = fx.awaitState(t, id, "dead");
    assertThat(dead.path("attempts").asInt()).isEqualTo(1);
    assertThat(dead.path("error").asText()).contains("fail");

    Resp r = fx.post("/v1/tasks/" + id + "/retry", t).send();

    assertThat(r.status()).as("%s", r).isEqualTo(200);
    JsonNode task = r.json();
    assertThat(task.path("state").asText()).isEqualTo("queued");
    assertThat(task.path("attempts").asInt(-1)).isZero();
    assertThat(task.path("error").isNull()).isTrue();
    assertThat(task.path("finishedAt").isNull()).isTrue();
    fx.awaitState(t, id, "dead"); // the worker ran it again
  }

  @Test
  void retrying_a_queued_task_is_refused_with_409() {
    Tenant t = fx.newTenant();
    String id = submit(t, "{\"type\":\"noop\"," + LATER + "}");

    JsonNode p = assertProblem(fx.post("/v1/tasks/" + id + "/retry", t).send(), 409);

    assertThat(p.path("state").asText()).isEqualTo("queued");
  }

  @Test
  void a_cancelled_task_can_be_retried() {
    Tenant t = fx.newTenant();
    String id = submit(t, "{\"type\":\"noop\"," + LATER + "}");
    assertThat(fx.post("/v1/tasks/" + id + "/cancel", t).send().status()).isEqualTo(200);

    Resp r = fx.post("/v1/tasks/" + id + "/retry", t).send();

    assertThat(r.status()).as("%s", r).isEqualTo(200);
    assertThat(r.json().path("state").asText()).isEqualTo("queued");
    fx.awaitState(t, id, "succeeded");
  }
}
