package io.bulwark.postgres;

import static io.bulwark.postgres.PgFixtures.count;
import static io.bulwark.postgres.PgFixtures.exec;
import static io.bulwark.postgres.PgFixtures.keyed;
import static io.bulwark.postgres.PgFixtures.task;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.bulwark.core.task.Task;
import io.bulwark.core.task.TaskState;
import io.bulwark.testkit.PostgresExtension;
import io.bulwark.testkit.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(PostgresExtension.class)
class TaskRepositoryTest {
  private static Database db;
  private static TaskRepository repo;
  private static TaskQueue queue;

  @BeforeAll
  static void open(TestDatabase tdb) {
    db = PgFixtures.openMigrated(tdb);
    repo = new TaskRepository(db);
    queue = new TaskQueue(db);
  }

  @AfterAll
  static void close() {
    db.close();
  }

  @BeforeEach
  void empty() {
    PgFixtures.truncateAll(db);
  }

  private static Task created(SubmitOutcome o) {
    assertThat(o).isInstanceOf(SubmitOutcome.Created.class);
    return ((SubmitOutcome.Created) o).task();
  }

  private static Task replayed(SubmitOutcome o) {
    assertThat(o).isInstanceOf(SubmitOutcome.Replayed.class);
    return ((SubmitOutcome.Replayed) o).task();
  }

  private static long tasks() {
    return count(db, "SELECT count(*) FROM tasks");
  }

  // ------------------------------------------------------------------ list

  @Test
  void a_page_of_the_list_holds_at_most_its_bytes_of_results_and_the_next_page_goes_on() {
    List<NewTask> in = new ArrayList<>();
    for (int i = 0; i < 30; i++) in.add(PgFixtures.task("acme"));
    repo.submit(in, false);
    String result = "\"" + "x".repeat(60_000) + "\"";
    PgFixtures.exec(db, "UPDATE tasks SET state = 'succeeded', finished_at = now(), result_json = ?", result);

    TaskRepository.Page first = repo.page("acme", null, null, 100, 1 << 20);
    // 60,302 bytes a task (result, and 300 for the rest of it): 17 fit in 1 MiB
    assertThat(first.tasks()).hasSize(17);
    assertThat(first.more()).isTrue();
    TaskRepository.Page second = repo.page("acme", null, first.tasks().get(16).id(), 100, 1 << 20);
    assertThat(second.tasks()).hasSize(13);
    assertThat(second.more()).as("the last page").isFalse();
    // one task larger than the budget still comes, alone
    assertThat(repo.page("acme", null, null, 100, 1000).tasks()).hasSize(1);
    // by count as before
    TaskRepository.Page byCount = repo.page("acme", null, null, 30, Long.MAX_VALUE);
    assertThat(byCount.tasks()).hasSize(30);
    assertThat(byCount.more()).as("a full page says there may be more").isTrue();
  }

  // ------------------------------------------------------------------ submit

  @Test
  void submit_creates_queued_tasks_and_returns_them_in_order() {
    List<NewTask> in = new ArrayList<>();
    for (int i = 0; i < 5; i++) in.add(task("acme", "type-" + i, i - 2, 3, null));

    List<SubmitOutcome> out = repo.submit(in, true);

    assertThat(out).hasSize(5);
    for (int i = 0; i < 5; i++) {
      Task t = created(out.get(i));
      NewTask n = in.get(i);
      assertThat(t.id()).isEqualTo(n.id());
      assertThat(t.tenant()).isEqualTo("acme");
      assertThat(t.type()).isEqualTo("type-" + i);
      assertThat(t.state()).isEqualTo(TaskState.QUEUED);
      assertThat(t.priority()).isEqualTo(i - 2);
      assertThat(t.maxAttempts()).isEqualTo(3);
      assertThat(t.attempts()).isZero();
      assertThat(t.createdAt()).isNotNull();
      assertThat(t.runAt()).isEqualTo(t.createdAt()); // null runAt means now, on the database clock
      assertThat(t.startedAt()).isNull();
      assertThat(t.finishedAt()).isNull();
      assertThat(t.hasResult()).isFalse();
      assertThat(repo.find("acme", t.id())).contains(t);
    }
    assertThat(tasks()).isEqualTo(5);
    assertThat(PgFixtures.one(db, String.class, "SELECT input_json FROM tasks WHERE id = ?", in.get(0).id()))
        .isEqualTo("{\"n\":1}");
  }

  @Test
  void submit_keeps_an_explicit_run_at() {
    Instant later = Instant.now().plus(Duration.ofHours(2)).truncatedTo(ChronoUnit.MICROS);
    Task t = created(repo.submit(List.of(task("acme", "echo", 0, 5, later)), true).get(0));
    assertThat(t.runAt()).isEqualTo(later);
    assertThat(repo.find("acme", t.id()).orElseThrow().runAt()).isEqualTo(later);
  }

  @Test
  void submitting_a_ready_task_wakes_listeners_on_the_queued_channel() {
    AtomicInteger wakeups = new AtomicInteger();
    try (PgListener listener = new PgListener(db.config(), TaskRepository.QUEUED_CHANNEL, wakeups::incrementAndGet)) {
      // the listener calls back once right after it starts listening
      await().atMost(Duration.ofSeconds(10)).until(() -> wakeups.get() >= 1);
      int before = wakeups.get();
      repo.submit(List.of(task("acme")), false);
      await().atMost(Duration.ofSeconds(10)).until(() -> wakeups.get() > before);
    }
  }

  // ------------------------------------------------------------------ idempotency keys

  @Test
  void an_idempotency_key_with_the_same_request_hash_returns_the_original_task() {
    Task original = created(repo.submit(List.of(keyed("acme", "k1", "{\"a\":1}")), false).get(0));

    NewTask retry = keyed("acme", "k1", "{\"a\":1}"); // a new id, as a client retry would get
    Task again = replayed(repo.submit(List.of(retry), false).get(0));

    assertThat(again.id()).isEqualTo(original.id()).isNotEqualTo(retry.id());
    assertThat(again).isEqualTo(original);
    assertThat(tasks()).isEqualTo(1);
    assertThat(repo.find("acme", retry.id())).isEmpty();
  }

  @Test
  void the_same_key_with_a_different_request_is_a_conflict_and_stores_nothing() {
    Task original = created(repo.submit(List.of(keyed("acme", "k1", "{\"a\":1}")), false).get(0));

    NewTask different = keyed("acme", "k1", "{\"a\":2}");
    List<SubmitOutcome> out = repo.submit(List.of(different), false);

    assertThat(out).containsExactly(new SubmitOutcome.KeyConflict("k1"));
    assertThat(tasks()).isEqualTo(1);
    assertThat(repo.find("acme", different.id())).isEmpty();
    assertThat(PgFixtures.uuid(db, "SELECT task_id FROM idempotency_keys WHERE tenant = 'acme' AND key = 'k1'"))
        .isEqualTo(original.id());
  }

  @Test
  void a_conflict_without_all_or_nothing_skips_only_the_conflicting_task() {
    repo.submit(List.of(keyed("acme", "k1", "{\"a\":1}")), false);

    NewTask fine = task("acme");
    NewTask conflicting = keyed("acme", "k1", "{\"a\":2}");
    NewTask fresh = keyed("acme", "k2", "{\"b\":1}");
    List<SubmitOutcome> out = repo.submit(List.of(fine, conflicting, fresh), false);

    assertThat(out).hasSize(3);
    assertThat(created(out.get(0)).id()).isEqualTo(fine.id());
    assertThat(out.get(1)).isEqualTo(new SubmitOutcome.KeyConflict("k1"));
    assertThat(created(out.get(2)).id()).isEqualTo(fresh.id());
    assertThat(tasks()).isEqualTo(3);
  }

  @Test
  void two_tasks_with_the_same_key_and_request_in_one_call_are_created_then_replayed() {
    NewTask first = keyed("acme", "dup", "{\"x\":1}");
    NewTask second = keyed("acme", "dup", "{\"x\":1}");

    List<SubmitOutcome> out = repo.submit(List.of(first, second), true);

    Task a = created(out.get(0));
    Task b = replayed(out.get(1));
    assertThat(a.id()).isEqualTo(first.id());
    assertThat(b.id()).isEqualTo(first.id());
    assertThat(tasks()).isEqualTo(1);
    assertThat(repo.find("acme", second.id())).isEmpty();
  }

  @Test
  void two_tasks_with_the_same_key_and_different_requests_in_one_call_conflict() {
    NewTask first = keyed("acme", "dup", "{\"x\":1}");
    NewTask second = keyed("acme", "dup", "{\"x\":2}");

    List<SubmitOutcome> out = repo.submit(List.of(first, second), false);

    assertThat(created(out.get(0)).id()).isEqualTo(first.id());
    assertThat(out.get(1)).isEqualTo(new SubmitOutcome.KeyConflict("dup"));
    assertThat(tasks()).isEqualTo(1);
  }

  @Test
  void all_or_nothing_with_one_conflict_stores_nothing_of_that_call() {
    repo.submit(List.of(keyed("acme", "taken", "{\"a\":1}")), false);
    NewTask unkeyed = task("acme");
    NewTask newKey = keyed("acme", "new-key", "{\"n\":1}");
    NewTask conflicting = keyed("acme", "taken", "{\"a\":2}");

    List<SubmitOutcome> out = repo.submit(List.of(unkeyed, newKey, conflicting), true);

    assertThat(out).contains(new SubmitOutcome.KeyConflict("taken"));
    assertThat(out).noneMatch(o -> o instanceof SubmitOutcome.Created);
    assertThat(tasks()).isEqualTo(1);
    assertThat(repo.find("acme", unkeyed.id())).isEmpty();
    assertThat(repo.find("acme", newKey.id())).isEmpty();
    // the new key was not kept either: it can be used with another request
    assertThat(count(db, "SELECT count(*) FROM idempotency_keys WHERE key = 'new-key'")).isZero();
    NewTask reuse = keyed("acme", "new-key", "{\"other\":true}");
    assertThat(created(repo.submit(List.of(reuse), true).get(0)).id()).isEqualTo(reuse.id());
  }

  @Test
  void concurrent_submits_with_the_same_key_create_exactly_one_task() throws Exception {
    int threads = 6;
    CountDownLatch start = new CountDownLatch(1);
    List<Future<SubmitOutcome>> results = new ArrayList<>();
    try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
      for (int i = 0; i < threads; i++) {
        results.add(pool.submit(() -> {
          start.await();
          return repo.submit(List.of(keyed("acme", "race", "{\"same\":true}")), false).get(0);
        }));
      }
      start.countDown();
      List<SubmitOutcome> outcomes = new ArrayList<>();
      for (Future<SubmitOutcome> f : results) outcomes.add(f.get(30, TimeUnit.SECONDS));

      assertThat(outcomes).filteredOn(o -> o instanceof SubmitOutcome.Created).hasSize(1);
      assertThat(outcomes).filteredOn(o -> o instanceof SubmitOutcome.Replayed).hasSize(threads - 1);
      UUID id = ((SubmitOutcome.Created) outcomes.stream()
          .filter(o -> o instanceof SubmitOutcome.Created).findFirst().orElseThrow()).task().id();
      assertThat(outcomes).allSatisfy(o -> assertThat(
          o instanceof SubmitOutcome.Created c ? c.task().id() : ((SubmitOutcome.Replayed) o).task().id())
          .isEqualTo(id));
    }
    assertThat(tasks()).isEqualTo(1);
  }

  /**
   * Two submissions holding the same new keys in opposite order used to deadlock: each inserted its
   * first key, then waited for the other's uncommitted copy of its second key; PostgreSQL aborted one
   * after deadlock_timeout and every request grouped into that commit failed. Keys are now claimed in
   * one global order. To make the interleaving certain, an open transaction holds a third key that both
   * submissions contain in the middle: both start, insert their first key and wait for it; when it rolls
   * back, one takes it and goes on to its last key, which the other one holds.
   */
  @Test
  void submissions_sharing_keys_in_opposite_order_do_not_deadlock() throws Exception {
    NewTask k1 = keyed("acme", "k1", "{\"k\":1}");
    NewTask gate = keyed("acme", "a-gate", "{\"gate\":true}");
    NewTask k2 = keyed("acme", "k2", "{\"k\":2}");
    NewTask k1again = keyed("acme", "k1", "{\"k\":1}");
    NewTask gateAgain = keyed("acme", "a-gate", "{\"gate\":true}");
    NewTask k2again = keyed("acme", "k2", "{\"k\":2}");

    try (Connection holder = db.connection(); ExecutorService pool = Executors.newFixedThreadPool(2)) {
      holder.setAutoCommit(false);
      try (PreparedStatement ps = holder.prepareStatement("INSERT INTO idempotency_keys (tenant, key,"
          + " request_sha256, task_id) VALUES ('acme', 'a-gate', '\\x00', gen_random_uuid())")) {
        ps.executeUpdate();
      }
      Future<List<SubmitOutcome>> forward = pool.submit(() -> repo.submit(List.of(k1, gate, k2), false));
      Future<List<SubmitOutcome>> backward = pool.submit(() -> repo.submit(List.of(k2again, gateAgain, k1again), false));
      await().atMost(Duration.ofSeconds(10)).until(() -> count(db, "SELECT count(*) FROM pg_stat_activity"
          + " WHERE datname = current_database() AND wait_event_type = 'Lock'") == 2);
      holder.rollback();

      List<SubmitOutcome> f = forward.get(30, TimeUnit.SECONDS);
      List<SubmitOutcome> b = backward.get(30, TimeUnit.SECONDS);
      assertThat(f).hasSize(3).noneMatch(o -> o instanceof SubmitOutcome.KeyConflict);
      assertThat(b).hasSize(3).noneMatch(o -> o instanceof SubmitOutcome.KeyConflict);
      // one of them created all three, the other replayed them
      List<SubmitOutcome> all = new ArrayList<>(f);
      all.addAll(b);
      assertThat(all).filteredOn(o -> o instanceof SubmitOutcome.Created).hasSize(3);
      assertThat(all).filteredOn(o -> o instanceof SubmitOutcome.Replayed).hasSize(3);
    }
    assertThat(tasks()).isEqualTo(3);
  }

  @Test
  void idempotency_keys_are_per_tenant() {
    NewTask a = keyed("acme", "shared-key", "{\"a\":1}");
    NewTask b = keyed("globex", "shared-key", "{\"a\":1}");

    Task ta = created(repo.submit(List.of(a), false).get(0));
    Task tb = created(repo.submit(List.of(b), false).get(0));

    assertThat(ta.id()).isNotEqualTo(tb.id());
    assertThat(ta.tenant()).isEqualTo("acme");
    assertThat(tb.tenant()).isEqualTo("globex");
    assertThat(tasks()).isEqualTo(2);
    // and a replay in each tenant finds its own task
    assertThat(replayed(repo.submit(List.of(keyed("globex", "shared-key", "{\"a\":1}")), false).get(0)).id())
        .isEqualTo(tb.id());
  }

  @Test
  void prune_removes_only_idempotency_keys_older_than_the_retention() {
    repo.submit(List.of(keyed("acme", "old", "{}"), keyed("acme", "new", "{}")), true);
    exec(db, "UPDATE idempotency_keys SET created_at = now() - interval '3 days' WHERE key = 'old'");

    int pruned = repo.pruneIdempotencyKeys(Duration.ofDays(1));

    assertThat(pruned).isEqualTo(1);
    assertThat(count(db, "SELECT count(*) FROM idempotency_keys WHERE key = 'old'")).isZero();
    assertThat(count(db, "SELECT count(*) FROM idempotency_keys WHERE key = 'new'")).isOne();
    assertThat(tasks()).as("pruning keys keeps the tasks").isEqualTo(2);
    // after pruning, the old key is free again
    NewTask reuse = keyed("acme", "old", "{\"different\":1}");
    assertThat(created(repo.submit(List.of(reuse), false).get(0)).id()).isEqualTo(reuse.id());
  }

  // ------------------------------------------------------------------ tenant scoping

  @Test
  void find_list_cancel_and_redrive_do_not_see_another_tenants_task() {
    Task theirs = created(repo.submit(List.of(task("globex")), true).get(0));

    assertThat(repo.find("acme", theirs.id())).isEmpty();
    assertThat(repo.list("acme", null, null, 100)).isEmpty();
    assertThat(repo.cancel("acme", theirs.id())).isEmpty();
    assertThat(repo.find("globex", theirs.id()).orElseThrow().state()).isEqualTo(TaskState.QUEUED);

    repo.cancel("globex", theirs.id());
    assertThat(repo.redrive("acme", theirs.id())).isEmpty();
    assertThat(repo.find("globex", theirs.id()).orElseThrow().state()).isEqualTo(TaskState.CANCELLED);
  }

  @Test
  void find_of_an_unknown_id_is_empty() {
    assertThat(repo.find("acme", UUID.randomUUID())).isEmpty();
  }

  // ------------------------------------------------------------------ list

  @Test
  void list_pages_by_id_with_after() {
    List<UUID> ids = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      ids.add(created(repo.submit(List.of(task("acme")), false).get(0)).id());
    }
    repo.submit(List.of(task("globex")), false);
    List<UUID> sorted = ids.stream().sorted().toList(); // the order the API promises: by id

    List<Task> page1 = repo.list("acme", null, null, 3);
    List<Task> page2 = repo.list("acme", null, page1.getLast().id(), 3);
    List<Task> page3 = repo.list("acme", null, page2.getLast().id(), 3);
    List<Task> page4 = repo.list("acme", null, page3.getLast().id(), 3);

    assertThat(page1).extracting(Task::id).containsExactlyElementsOf(sorted.subList(0, 3));
    assertThat(page2).extracting(Task::id).containsExactlyElementsOf(sorted.subList(3, 6));
    assertThat(page3).extracting(Task::id).containsExactlyElementsOf(sorted.subList(6, 7));
    assertThat(page4).isEmpty();
  }

  @Test
  void list_filters_by_state() {
    Task a = created(repo.submit(List.of(task("acme")), false).get(0));
    Task b = created(repo.submit(List.of(task("acme")), false).get(0));
    Task c = created(repo.submit(List.of(task("acme")), false).get(0));
    repo.cancel("acme", b.id());

    assertThat(repo.list("acme", TaskState.CANCELLED, null, 10)).extracting(Task::id).containsExactly(b.id());
    assertThat(repo.list("acme", TaskState.QUEUED, null, 10)).extracting(Task::id)
        .containsExactlyElementsOf(List.of(a.id(), c.id()).stream().sorted().toList());
    assertThat(repo.list("acme", TaskState.SUCCEEDED, null, 10)).isEmpty();
    List<UUID> queued = List.of(a.id(), c.id()).stream().sorted().toList();
    assertThat(repo.list("acme", TaskState.QUEUED, queued.get(0), 10)).extracting(Task::id)
        .containsExactly(queued.get(1));
  }

  // ------------------------------------------------------------------ cancel and redrive

  @Test
  void cancel_cancels_a_queued_task() {
    Task t = created(repo.submit(List.of(task("acme")), false).get(0));

    Task cancelled = repo.cancel("acme", t.id()).orElseThrow();

    assertThat(cancelled.state()).isEqualTo(TaskState.CANCELLED);
    assertThat(cancelled.finishedAt()).isNotNull();
    assertThat(queue.claim("w", 10, Duration.ofMinutes(1))).isEmpty();
  }

  @Test
  void cancel_cancels_a_running_task_and_clears_its_lease() {
    Task t = created(repo.submit(List.of(task("acme")), false).get(0));
    ClaimedTask claimed = queue.claim("w", 1, Duration.ofMinutes(1)).get(0);

    Task cancelled = repo.cancel("acme", t.id()).orElseThrow();

    assertThat(cancelled.state()).isEqualTo(TaskState.CANCELLED);
    assertThat(count(db, "SELECT count(*) FROM tasks WHERE lease_token IS NOT NULL OR lease_expires_at IS NOT NULL"))
        .isZero();
    // the worker's late success changes nothing
    TaskQueue.CompletionResult r = queue.complete(List.of(new Completion.Success(claimed, "1", null, "application/json")));
    assertThat(r.ignored()).isEqualTo(1);
    assertThat(repo.find("acme", t.id()).orElseThrow().state()).isEqualTo(TaskState.CANCELLED);
  }

  @Test
  void cancel_does_not_touch_finished_tasks() {
    Task done = created(repo.submit(List.of(task("acme")), false).get(0));
    ClaimedTask c = queue.claim("w", 1, Duration.ofMinutes(1)).get(0);
    queue.complete(List.of(new Completion.Success(c, "\"ok\"", null, "application/json")));
    Task cancelled = created(repo.submit(List.of(task("acme")), false).get(0));
    repo.cancel("acme", cancelled.id());
    Instant firstCancel = repo.find("acme", cancelled.id()).orElseThrow().finishedAt();

    assertThat(repo.cancel("acme", done.id())).isEmpty();
    assertThat(repo.cancel("acme", cancelled.id())).isEmpty();
    assertThat(repo.find("acme", done.id()).orElseThrow().state()).isEqualTo(TaskState.SUCCEEDED);
    assertThat(repo.find("acme", cancelled.id()).orElseThrow().finishedAt()).isEqualTo(firstCancel);
  }

  @Test
  void redrive_requeues_a_dead_task_with_a_fresh_budget_of_attempts() {
    Task t = created(repo.submit(List.of(task("acme", "echo", 0, 2, null)), false).get(0));
    for (int i = 0; i < 2; i++) {
      ClaimedTask c = queue.claim("w", 1, Duration.ofMinutes(1)).get(0);
      queue.complete(List.of(new Completion.Failure(c, "boom " + i, Duration.ZERO, false)));
    }
    Task dead = repo.find("acme", t.id()).orElseThrow();
    assertThat(dead.state()).isEqualTo(TaskState.DEAD);
    assertThat(dead.attempts()).isEqualTo(2);

    Task redriven = repo.redrive("acme", t.id()).orElseThrow();

    assertThat(redriven.state()).isEqualTo(TaskState.QUEUED);
    assertThat(redriven.attempts()).isZero();
    assertThat(redriven.error()).isNull();
    assertThat(redriven.finishedAt()).isNull();
    assertThat(redriven.startedAt()).isNull();
    ClaimedTask again = queue.claim("w", 1, Duration.ofMinutes(1)).get(0);
    assertThat(again.id()).isEqualTo(t.id());
    assertThat(again.attempt()).isEqualTo(1);
  }

  @Test
  void redrive_requeues_a_cancelled_task() {
    Task t = created(repo.submit(List.of(task("acme")), false).get(0));
    repo.cancel("acme", t.id());

    Task redriven = repo.redrive("acme", t.id()).orElseThrow();

    assertThat(redriven.state()).isEqualTo(TaskState.QUEUED);
    assertThat(redriven.attempts()).isZero();
  }

  @Test
  void redrive_refuses_queued_running_and_succeeded_tasks() {
    Task queued = created(repo.submit(List.of(task("acme", "echo", -5, 5, null)), false).get(0));
    Task running = created(repo.submit(List.of(task("acme", "echo", 10, 5, null)), false).get(0));
    ClaimedTask claim = queue.claim("w", 1, Duration.ofMinutes(1)).get(0);
    assertThat(claim.id()).isEqualTo(running.id());
    Task succeeded = created(repo.submit(List.of(task("acme", "echo", 10, 5, null)), false).get(0));
    ClaimedTask c2 = queue.claim("w", 1, Duration.ofMinutes(1)).get(0);
    assertThat(c2.id()).isEqualTo(succeeded.id());
    queue.complete(List.of(new Completion.Success(c2, "1", null, "application/json")));

    assertThat(repo.redrive("acme", queued.id())).isEmpty();
    assertThat(repo.redrive("acme", running.id())).isEmpty();
    assertThat(repo.redrive("acme", succeeded.id())).isEmpty();
    assertThat(repo.find("acme", running.id()).orElseThrow().state()).isEqualTo(TaskState.RUNNING);
    assertThat(repo.find("acme", running.id()).orElseThrow().attempts()).isEqualTo(1);
    assertThat(repo.find("acme", succeeded.id()).orElseThrow().state()).isEqualTo(TaskState.SUCCEEDED);
  }
}
