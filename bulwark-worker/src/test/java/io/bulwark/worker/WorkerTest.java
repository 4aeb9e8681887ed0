package io.bulwark.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.bulwark.core.handler.HandlerRegistry;
import io.bulwark.core.handler.TaskContext;
import io.bulwark.core.handler.TaskHandler;
import io.bulwark.core.handler.TaskResult;
import io.bulwark.core.metrics.Metrics;
import io.bulwark.core.task.RetryPolicy;
import io.bulwark.core.task.Task;
import io.bulwark.core.task.TaskIds;
import io.bulwark.core.task.TaskState;
import io.bulwark.testkit.PostgresExtension;
import io.bulwark.testkit.TestDatabase;
import io.bulwark.postgres.Database;
import io.bulwark.postgres.DatabaseUnavailableException;
import io.bulwark.postgres.NewTask;
import io.bulwark.postgres.SubmitOutcome;
import io.bulwark.postgres.TaskRepository;
import io.bulwark.storage.FileSystemBlobStore;
import io.bulwark.worker.handlers.EchoHandler;
import io.bulwark.worker.handlers.FailHandler;
import io.bulwark.worker.handlers.NoopHandler;
import io.bulwark.worker.handlers.Sha256Handler;
import io.bulwark.worker.handlers.SleepHandler;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

@ExtendWith(PostgresExtension.class)
class WorkerTest {
  static Database db;
  static TaskRepository tasks;
  static final AtomicInteger hangingStarted = new AtomicInteger();
  static volatile CountDownLatch releaseHang = new CountDownLatch(1);

  @TempDir Path blobDir;
  Worker worker;
  FileSystemBlobStore blobs;

  /** Never returns and swallows interrupts: the worst handler there is. */
  static final class HangingHandler implements TaskHandler {
    @Override public String type() { return "hang"; }

    @Override
    public TaskResult handle(TaskContext context) {
      hangingStarted.incrementAndGet();
      while (true) {
        try {
          releaseHang.await();
          return TaskResult.NONE;
        } catch (InterruptedException ignored) {
          // swallowed on purpose
        }
      }
    }
  }

  static final AtomicInteger inputsHeld = new AtomicInteger();
  static final AtomicInteger mostInputsHeld = new AtomicInteger();
  static volatile CountDownLatch releaseInputs = new CountDownLatch(1);

  /** Holds its input until released, counting how many inputs are held at once. */
  static final class HoldInputHandler implements TaskHandler {
    @Override public String type() { return "hold-input"; }

    @Override
    public TaskResult handle(TaskContext context) throws InterruptedException {
      mostInputsHeld.accumulateAndGet(inputsHeld.incrementAndGet(), Math::max);
      try {
        releaseInputs.await();
        return TaskResult.json("{\"bytes\":" + context.input().length + "}");
      } finally {
        inputsHeld.decrementAndGet();
      }
    }
  }

  /** Claims to return JSON but returns garbage. */
  static final class GarbageHandler implements TaskHandler {
    @Override public String type() { return "garbage"; }

    @Override public TaskResult handle(TaskContext context) {
      return TaskResult.json("{not json");
    }
  }

  /** Throws an Error, not an Exception. */
  static final class ErrorHandler implements TaskHandler {
    @Override public String type() { return "error"; }

    @Override public TaskResult handle(TaskContext context) {
      throw new AssertionError("boom");
    }
  }

  /** Returns a result too big to keep inline. */
  static final class BigResultHandler implements TaskHandler {
    @Override public String type() { return "big"; }

    @Override public TaskResult handle(TaskContext context) {
      return TaskResult.binary(new byte[200_000], "application/octet-stream");
    }
  }

  @BeforeAll
  static void database(TestDatabase test) {
    db = Database.open(new Database.Config(test.jdbcUrl(), test.user(), test.password(), 8, Duration.ofSeconds(3), "worker-test"));
    db.migrate();
    tasks = new TaskRepository(db);
  }

  @BeforeEach
  void startWorker() {
    blobs = new FileSystemBlobStore(blobDir);
    worker = newWorker(WorkerConfig.defaults("test").withConcurrency(16, 16));
    worker.start();
  }

  Worker newWorker(WorkerConfig config) {
    HandlerRegistry handlers = HandlerRegistry.of(new NoopHandler(), new EchoHandler(), new Sha256Handler(),
        new SleepHandler(), new FailHandler(), new HangingHandler(), new GarbageHandler(), new ErrorHandler(),
        new BigResultHandler(), new HoldInputHandler());
    return new Worker(config.withRetry(new RetryPolicy.ExponentialBackoff(Duration.ofMillis(20), Duration.ofMillis(50))),
        db, blobs, handlers, new Metrics());
  }

  @AfterEach
  void stop() {
    releaseHang.countDown();
    releaseInputs.countDown();
    worker.close();
    releaseHang = new CountDownLatch(1);
  }

  UUID submit(String type, String inputJson, int maxAttempts, int timeoutSeconds) {
    NewTask t = new NewTask(TaskIds.newId(), "t1", type, 0, maxAttempts, timeoutSeconds, null, inputJson, null, null, null, null);
    // like a client: retry while the pool replaces connections another test terminated
    SubmitOutcome[] o = new SubmitOutcome[1];
    await().pollDelay(Duration.ZERO).atMost(Duration.ofSeconds(10)).ignoreException(DatabaseUnavailableException.class)
        .until(() -> (o[0] = tasks.submit(List.of(t), true).get(0)) != null);
    return ((SubmitOutcome.Created) o[0]).task().id();
  }

  Task awaitState(UUID id, TaskState state, Duration within) {
    Task[] seen = new Task[1];
    // the test's own pool may hold a connection a failure drill just terminated: a read failing then is retried
    await().pollDelay(Duration.ZERO).atMost(within).pollInterval(Duration.ofMillis(20)).ignoreException(DatabaseUnavailableException.class)
        .until(() -> (seen[0] = tasks.find("t1", id).orElseThrow()).state() == state);
    return seen[0];
  }

  @Test
  void sha256_of_a_json_string_hashes_its_utf8_bytes() throws Exception {
    UUID id = submit("sha256", "\"hello\"", 5, 10);
    Task t = awaitState(id, TaskState.SUCCEEDED, Duration.ofSeconds(10));
    String expected = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest("hello".getBytes(StandardCharsets.UTF_8)));
    assertThat(t.resultJson()).isEqualTo("{\"sha256\":\"" + expected + "\"}");
    assertThat(t.attempts()).isEqualTo(1);
  }

  @Test
  void echo_returns_its_input_and_many_tasks_all_succeed_exactly_once() {
    List<UUID> ids = new ArrayList<>();
    for (int i = 0; i < 300; i++) ids.add(submit("echo", "{\"n\":" + i + "}", 5, 10));
    for (int i = 0; i < ids.size(); i++) {
      Task t = awaitState(ids.get(i), TaskState.SUCCEEDED, Duration.ofSeconds(30));
      assertThat(t.resultJson()).isEqualTo("{\"n\":" + i + "}");
      assertThat(t.attempts()).isEqualTo(1);
    }
  }

  @Test
  void a_failing_handler_is_retried_with_backoff_then_dead_after_max_attempts() {
    UUID id = submit("fail", "null", 3, 10);
    Task t = awaitState(id, TaskState.DEAD, Duration.ofSeconds(10));
    assertThat(t.attempts()).isEqualTo(3);
    assertThat(t.error()).contains("always fails (attempt 3)");
    assertThat(t.finishedAt()).isNotNull();
  }

  @Test
  void a_handler_that_hangs_and_ignores_interrupts_times_out_and_does_not_stall_the_worker() {
    UUID hung = submit("hang", "null", 1, 1);
    await().atMost(Duration.ofSeconds(5)).until(() -> hangingStarted.get() > 0);
    List<UUID> others = new ArrayList<>();
    for (int i = 0; i < 50; i++) others.add(submit("noop", "null", 5, 10));
    for (UUID id : others) awaitState(id, TaskState.SUCCEEDED, Duration.ofSeconds(10));
    Task t = awaitState(hung, TaskState.DEAD, Duration.ofSeconds(10));
    assertThat(t.error()).contains("timed out after 1 s");
    assertThat(worker.isHealthy()).isTrue();
  }

  @Test
  void hung_handlers_do_not_use_up_the_slots_forever() {
    // concurrency 16: more hung tasks than slots must all time out and free their slots
    List<UUID> hung = new ArrayList<>();
    for (int i = 0; i < 20; i++) hung.add(submit("hang", "null", 1, 1));
    for (UUID id : hung) awaitState(id, TaskState.DEAD, Duration.ofSeconds(20));
    UUID after = submit("noop", "null", 1, 10);
    awaitState(after, TaskState.SUCCEEDED, Duration.ofSeconds(10));
  }

  @Test
  void garbage_results_and_errors_are_failed_attempts_and_the_worker_stays_healthy() {
    UUID garbage = submit("garbage", "null", 2, 10);
    UUID error = submit("error", "null", 2, 10);
    UUID badInput = submit("sleep", "\"not an object\"", 1, 10);
    assertThat(awaitState(garbage, TaskState.DEAD, Duration.ofSeconds(10)).error()).contains("invalid JSON");
    assertThat(awaitState(error, TaskState.DEAD, Duration.ofSeconds(10)).error()).contains("AssertionError: boom");
    assertThat(awaitState(badInput, TaskState.DEAD, Duration.ofSeconds(10)).error()).contains("{\"ms\"");
    UUID ok = submit("noop", "null", 1, 10);
    awaitState(ok, TaskState.SUCCEEDED, Duration.ofSeconds(10));
    assertThat(worker.isHealthy()).isTrue();
  }

  @Test
  void an_unknown_task_type_is_dead_at_once_with_a_remedy() {
    UUID id = submit("not-installed", "null", 5, 10);
    Task t = awaitState(id, TaskState.DEAD, Duration.ofSeconds(10));
    assertThat(t.attempts()).isEqualTo(1);
    assertThat(t.error()).contains("no handler for task type 'not-installed'").contains("handlers/");
  }

  @Test
  void a_large_result_goes_to_blob_storage_with_its_checksum() {
    UUID id = submit("big", "null", 1, 10);
    Task t = awaitState(id, TaskState.SUCCEEDED, Duration.ofSeconds(10));
    assertThat(t.resultJson()).isNull();
    assertThat(t.resultBlob()).isNotNull();
    assertThat(t.resultBlob().size()).isEqualTo(200_000);
    assertThat(blobs.get(t.resultBlob())).hasSize(200_000);
  }

  @Test
  void cancelling_a_running_task_interrupts_its_handler_and_a_late_completion_changes_nothing() {
    UUID id = submit("sleep", "{\"ms\": 30000}", 1, 60);
    awaitState(id, TaskState.RUNNING, Duration.ofSeconds(10));
    assertThat(tasks.cancel("t1", id)).isPresent();
    // the heartbeat (every 2.5 s) notices the lost lease and stops the handler
    await().atMost(Duration.ofSeconds(10)).until(() -> worker.runningCount() == 0);
    assertThat(tasks.find("t1", id).orElseThrow().state()).isEqualTo(TaskState.CANCELLED);
  }

  @Test
  void graceful_stop_hands_running_tasks_back_without_counting_the_attempt() {
    worker.close();
    worker = newWorker(WorkerConfig.defaults("short-grace").withConcurrency(4, 4).withShutdownGrace(Duration.ofMillis(200)));
    worker.start();
    UUID id = submit("sleep", "{\"ms\": 30000}", 3, 60);
    awaitState(id, TaskState.RUNNING, Duration.ofSeconds(10));
    worker.close();
    Task t = tasks.find("t1", id).orElseThrow();
    assertThat(t.state()).isEqualTo(TaskState.QUEUED);
    assertThat(t.attempts()).isZero();
  }

  @Test
  void an_expired_lease_of_a_dead_worker_is_rescued_and_the_task_runs_again() throws Exception {
    worker.close(); // this test controls its own worker
    UUID id = submit("noop", "null", 3, 10);
    // simulate a worker that claimed the task and died: running, lease already expired
    try (Connection c = db.connection(); Statement st = c.createStatement()) {
      st.executeUpdate("UPDATE tasks SET state = 'running', attempts = 1, lease_token = gen_random_uuid(),"
          + " lease_expires_at = now() - interval '1 second', worker = 'ghost' WHERE id = '" + id + "'");
    }
    worker = newWorker(WorkerConfig.defaults("rescuer").withConcurrency(4, 4));
    worker.start();
    Task t = awaitState(id, TaskState.SUCCEEDED, Duration.ofSeconds(10));
    assertThat(t.attempts()).isEqualTo(2);
  }

  @Test
  void the_worker_keeps_working_across_a_database_connection_failure() throws Exception {
    UUID before = submit("noop", "null", 5, 10);
    awaitState(before, TaskState.SUCCEEDED, Duration.ofSeconds(10));
    // kill every backend of this database except ours: pool connections and the LISTEN connection die
    try (Connection c = db.connection(); Statement st = c.createStatement()) {
      st.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
          + " AND pid <> pg_backend_pid()");
    }
    UUID after = submit("noop", "null", 5, 10);
    awaitState(after, TaskState.SUCCEEDED, Duration.ofSeconds(15));
  }

  @Test
  void inputs_beyond_the_budget_stay_queued_without_being_charged_an_attempt_and_all_run_in_turn() throws Exception {
    worker.close();
    releaseInputs = new CountDownLatch(1);
    inputsHeld.set(0);
    mostInputsHeld.set(0);
    worker = newWorker(WorkerConfig.defaults("test").withConcurrency(16, 16).withInputBudget(10L << 20));
    worker.start();
    List<UUID> ids = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      UUID id = TaskIds.newId();
      var ref = blobs.put("tasks/" + id + "/input", new byte[4 << 20]);
      tasks.submit(List.of(new NewTask(id, "t1", "hold-input", 0, 5, 60, null, null, ref, "application/octet-stream", null, null)), false);
      ids.add(id);
    }

    // a 10 MiB budget holds two 4 MiB inputs; the other four are handed back: queued, no attempt counted
    await().atMost(Duration.ofSeconds(10)).until(() -> inputsHeld.get() == 2
        && ids.stream().filter(id -> tasks.find("t1", id).orElseThrow().state() == TaskState.QUEUED).count() == 4);
    for (UUID id : ids) {
      Task t = tasks.find("t1", id).orElseThrow();
      if (t.state() == TaskState.QUEUED) assertThat(t.attempts()).as("a task handed back is not charged").isZero();
    }

    releaseInputs.countDown();
    for (UUID id : ids) awaitState(id, TaskState.SUCCEEDED, Duration.ofSeconds(20));
    assertThat(mostInputsHeld.get()).as("inputs held at once").isEqualTo(2);
    for (UUID id : ids) {
      Task t = tasks.find("t1", id).orElseThrow();
      assertThat(t.attempts()).as("one attempt each, however often handed back").isEqualTo(1);
      assertThat(t.resultJson()).isEqualTo("{\"bytes\":" + (4 << 20) + "}");
    }
  }
}
