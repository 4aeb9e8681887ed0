package io.bulwark.postgres;

import static io.bulwark.postgres.PgFixtures.count;
import static io.bulwark.postgres.PgFixtures.dbNow;
import static io.bulwark.postgres.PgFixtures.exec;
import static io.bulwark.postgres.PgFixtures.one;
import static io.bulwark.postgres.PgFixtures.task;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bulwark.core.task.Task;
import io.bulwark.core.task.TaskState;
import io.bulwark.testkit.PostgresExtension;
import io.bulwark.testkit.TestDatabase;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(PostgresExtension.class)
class TaskQueueTest {
  private static final Duration LEASE = Duration.ofMinutes(1);
  private static final String JSON = "application/json";

  private static Database db;
  private static TaskRepository repo;
  private static TaskQueue queue;
  private static UsageRepository usage;

  @BeforeAll
  static void open(TestDatabase tdb) {
    db = PgFixtures.openMigrated(tdb);
    repo = new TaskRepository(db);
    queue = new TaskQueue(db);
    usage = new UsageRepository(db);
  }

  @AfterAll
  static void close() {
    db.close();
  }

  @BeforeEach
  void empty() {
    PgFixtures.truncateAll(db);
  }

  private static Task submit(NewTask t) {
    return ((SubmitOutcome.Created) repo.submit(List.of(t), false).get(0)).task();
  }

  private static Task submit(String tenant, int maxAttempts) {
    return submit(task(tenant, "echo", 0, maxAttempts, null));
  }

  private static Task get(UUID id) {
    return repo.findAll(List.of(id)).get(id);
  }

  private static ClaimedTask claimOne() {
    List<ClaimedTask> c = queue.claim("worker-1", 1, LEASE);
    assertThat(c).hasSize(1);
    return c.get(0);
  }

  private static Instant leaseExpiry(UUID id) {
    return one(db, OffsetDateTime.class, "SELECT lease_expires_at FROM tasks WHERE id = ?", id).toInstant();
  }

  private static UUID leaseToken(UUID id) {
    return one(db, UUID.class, "SELECT lease_token FROM tasks WHERE id = ?", id);
  }

  /** The same claim with another lease token, as a worker that lost its lease would hold. */
  private static ClaimedTask withToken(ClaimedTask c, UUID token) {
    return new ClaimedTask(c.id(), c.tenant(), c.type(), c.attempt(), c.maxAttempts(), c.timeoutSeconds(), token,
        c.inputJson(), c.inputBlob(), c.inputContentType());
  }

  private static UsageRepository.Counts totals(String tenant) {
    return usage.report(tenant, Instant.EPOCH).totals();
  }

  // ------------------------------------------------------------------ claim

  @Test
  void claim_returns_the_highest_priority_first_then_the_oldest_run_at() {
    Instant now = Instant.now();
    Task lowOld = submit(task("acme", "echo", 0, 5, now.minusSeconds(300)));
    Task highNew = submit(task("acme", "echo", 10, 5, now.minusSeconds(10)));
    Task highOld = submit(task("acme", "echo", 10, 5, now.minusSeconds(100)));
    Task lowNew = submit(task("acme", "echo", 0, 5, now.minusSeconds(1)));
    Task negative = submit(task("acme", "echo", -3, 5, now.minusSeconds(1000)));

    List<UUID> order = new ArrayList<>();
    for (int i = 0; i < 5; i++) order.add(claimOne().id());

    assertThat(order).containsExactly(highOld.id(), highNew.id(), lowOld.id(), lowNew.id(), negative.id());
    assertThat(queue.claim("worker-1", 10, LEASE)).isEmpty();
  }

  // ------------------------------------------------------------------ fairness across tenants

  private static void submitMany(String tenant, int n, int priority, Instant runAt) {
    List<NewTask> batch = new ArrayList<>();
    for (int i = 0; i < n; i++) batch.add(task(tenant, "echo", priority, 5, runAt));
    repo.submit(batch, false);
  }

  private static java.util.Map<String, Long> byTenant(List<ClaimedTask> claimed) {
    return claimed.stream().collect(java.util.stream.Collectors.groupingBy(ClaimedTask::tenant, java.util.TreeMap::new,
        java.util.stream.Collectors.counting()));
  }

  @Test
  void a_tenant_with_the_highest_priority_and_the_oldest_run_at_cannot_starve_the_others() {
    submitMany("greedy", 200, 1000, Instant.parse("1970-01-01T00:00:00Z"));
    submitMany("acme", 20, 0, null);
    submitMany("globex", 20, -5, null);

    // a batch is shared equally; one task at a time, the tenants take turns
    assertThat(byTenant(queue.claim("worker-1", 30, LEASE))).containsExactly(
        java.util.Map.entry("acme", 10L), java.util.Map.entry("globex", 10L), java.util.Map.entry("greedy", 10L));
    List<String> turns = new ArrayList<>();
    for (int i = 0; i < 6; i++) turns.add(claimOne().tenant());
    assertThat(turns.subList(0, 3)).containsExactlyInAnyOrder("acme", "globex", "greedy");
    assertThat(turns.subList(3, 6)).as("the same turns again").isEqualTo(turns.subList(0, 3));
  }

  @Test
  void priority_orders_a_tenants_own_tasks_and_unused_shares_go_to_whatever_is_ready() {
    Instant now = Instant.now();
    Task low = submit(task("acme", "echo", 0, 5, now.minusSeconds(50)));
    Task high = submit(task("acme", "echo", 7, 5, now.minusSeconds(1)));
    submitMany("globex", 10, 0, null);

    // one slot each: acme's is its highest priority task, though the other is older
    List<ClaimedTask> first = queue.claim("worker-1", 2, LEASE);
    assertThat(byTenant(first)).containsEntry("acme", 1L).containsEntry("globex", 1L);
    assertThat(first.stream().filter(c -> c.tenant().equals("acme")).map(ClaimedTask::id)).containsExactly(high.id());
    // five slots each: acme has one task left, so globex gets the four acme could not use
    List<ClaimedTask> next = queue.claim("worker-1", 10, LEASE);
    assertThat(byTenant(next)).containsEntry("acme", 1L).containsEntry("globex", 9L);
    assertThat(next.stream().filter(c -> c.tenant().equals("acme")).map(ClaimedTask::id)).containsExactly(low.id());
  }

  @Test
  void the_second_statement_runs_only_when_a_tenant_may_have_filled_its_share() {
    java.util.function.Function<String, ClaimedTask> of = t -> new ClaimedTask(UUID.randomUUID(), t, "noop", 1, 5, 60, UUID.randomUUID(),
        null, null, null);
    // 512 slots over up to 64 tenants: every share is 8 or more, so a tenant with fewer had nothing else ready
    assertThat(TaskQueue.someShareFilled(List.of(of.apply("a"), of.apply("b"), of.apply("a")), 512, 64)).isFalse();
    List<ClaimedTask> eight = new ArrayList<>();
    for (int i = 0; i < 8; i++) eight.add(of.apply("a"));
    assertThat(TaskQueue.someShareFilled(eight, 512, 64)).isTrue();
    // 10 slots over up to 10 tenants: a share may be 1
    assertThat(TaskQueue.someShareFilled(List.of(of.apply("a")), 10, 10)).isTrue();
    assertThat(TaskQueue.someShareFilled(List.of(), 10, 10)).isFalse();
  }

  @Test
  void more_tenants_than_slots_each_get_a_turn() {
    for (int t = 0; t < 7; t++) submitMany("tenant-" + t, 3, t * 100, null);
    Set<String> served = new HashSet<>();
    for (int i = 0; i < 3; i++) queue.claim("worker-1", 3, LEASE).forEach(c -> served.add(c.tenant()));
    assertThat(served).hasSize(7); // 9 slots in 3 claims: every tenant served, none twice before all once
  }

  @Test
  void tenants_whose_tasks_are_all_due_later_do_not_hide_a_tenant_with_ready_ones() {
    for (int t = 0; t < 70; t++) submitMany(String.format("a-%02d", t), 1, 0, Instant.now().plus(Duration.ofHours(1)));
    submitMany("z", 5, 0, null);
    List<ClaimedTask> claimed = List.of();
    int claims = 0;
    while (claimed.isEmpty() && claims++ < 10) claimed = queue.claim("worker-1", 10, LEASE); // 10 tenants a claim
    assertThat(claimed).as("after %d claims", claims).hasSize(5).allMatch(c -> c.tenant().equals("z"));
  }

  @Test
  void a_task_whose_run_at_is_in_the_future_is_not_claimed() {
    Task later = submit(task("acme", "echo", 100, 5, Instant.now().plus(Duration.ofHours(1))));
    Task now = submit(task("acme", "echo", 0, 5, null));

    List<ClaimedTask> claimed = queue.claim("worker-1", 10, LEASE);

    assertThat(claimed).extracting(ClaimedTask::id).containsExactly(now.id());
    assertThat(get(later.id()).state()).isEqualTo(TaskState.QUEUED);
    assertThat(get(later.id()).attempts()).isZero();
  }

  @Test
  void claim_counts_the_attempt_and_sets_a_lease_on_the_database_clock() {
    Task t = submit("acme", 5);
    Instant before = dbNow(db);

    ClaimedTask c = queue.claim("worker-7", 10, Duration.ofSeconds(90)).get(0);

    Instant after = dbNow(db);
    assertThat(c.id()).isEqualTo(t.id());
    assertThat(c.tenant()).isEqualTo("acme");
    assertThat(c.type()).isEqualTo("echo");
    assertThat(c.attempt()).isEqualTo(1);
    assertThat(c.maxAttempts()).isEqualTo(5);
    assertThat(c.inputJson()).isEqualTo("{\"n\":1}");
    assertThat(c.inputContentType()).isEqualTo(JSON);
    assertThat(c.leaseToken()).isNotNull().isEqualTo(leaseToken(t.id()));
    assertThat(leaseExpiry(t.id())).isBetween(before.plusSeconds(90), after.plusSeconds(90));
    Task row = get(t.id());
    assertThat(row.state()).isEqualTo(TaskState.RUNNING);
    assertThat(row.attempts()).isEqualTo(1);
    assertThat(row.startedAt()).isBetween(before, after);
    assertThat(one(db, String.class, "SELECT worker FROM tasks WHERE id = ?", t.id())).isEqualTo("worker-7");
  }

  @Test
  void claim_takes_at_most_the_requested_number_of_tasks() {
    for (int i = 0; i < 5; i++) submit("acme", 5);
    assertThat(queue.claim("w", 3, LEASE)).hasSize(3);
    assertThat(queue.claim("w", 3, LEASE)).hasSize(2);
    assertThat(queue.claim("w", 3, LEASE)).isEmpty();
  }

  @Test
  void concurrent_claimers_never_get_the_same_task() throws Exception {
    int n = 1000;
    List<NewTask> batch = new ArrayList<>();
    for (int i = 0; i < n; i++) batch.add(task("acme"));
    repo.submit(batch, true);

    int threads = 4;
    CountDownLatch start = new CountDownLatch(1);
    List<UUID> all = Collections.synchronizedList(new ArrayList<>());
    try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
      List<Future<Integer>> futures = new ArrayList<>();
      for (int w = 0; w < threads; w++) {
        String worker = "worker-" + w;
        futures.add(pool.submit(() -> {
          start.await();
          int mine = 0;
          while (true) {
            List<ClaimedTask> got = queue.claim(worker, 7, LEASE);
            if (got.isEmpty()) return mine;
            got.forEach(c -> all.add(c.id()));
            mine += got.size();
          }
        }));
      }
      start.countDown();
      for (Future<Integer> f : futures) assertThat(f.get(60, TimeUnit.SECONDS)).isPositive();
    }

    assertThat(all).hasSize(n).doesNotHaveDuplicates();
    assertThat(new HashSet<>(all)).isEqualTo(new HashSet<>(batch.stream().map(NewTask::id).toList()));
    assertThat(count(db, "SELECT count(*) FROM tasks WHERE state = 'running' AND attempts = 1")).isEqualTo(n);
  }

  // ------------------------------------------------------------------ completion

  @Test
  void a_success_with_the_right_token_and_attempt_makes_the_task_succeeded_with_its_result() {
    Task t = submit("acme", 5);
    ClaimedTask c = claimOne();

    TaskQueue.CompletionResult r = queue.complete(List.of(new Completion.Success(c, "{\"sum\":3}", null, JSON)));

    assertThat(r).isEqualTo(new TaskQueue.CompletionResult(1, 1, 0, 0, 0, 0));
    Task done = get(t.id());
    assertThat(done.state()).isEqualTo(TaskState.SUCCEEDED);
    assertThat(done.resultJson()).isEqualTo("{\"sum\":3}");
    assertThat(done.resultContentType()).isEqualTo(JSON);
    assertThat(done.finishedAt()).isNotNull();
    assertThat(done.error()).isNull();
    assertThat(leaseToken(t.id())).isNull();
    assertThat(one(db, OffsetDateTime.class, "SELECT lease_expires_at FROM tasks WHERE id = ?", t.id())).isNull();
  }

  @Test
  void a_success_can_carry_a_blob_result() {
    Task t = submit("acme", 5);
    ClaimedTask c = claimOne();
    var ref = new io.bulwark.core.blob.BlobRef("results/" + t.id(), 12, "a".repeat(64));

    queue.complete(List.of(new Completion.Success(c, null, ref, "application/octet-stream")));

    Task done = get(t.id());
    assertThat(done.resultBlob()).isEqualTo(ref);
    assertThat(done.resultJson()).isNull();
    assertThat(done.resultContentType()).isEqualTo("application/octet-stream");
  }

  @Test
  void a_duplicate_completion_is_ignored_and_changes_nothing() {
    Task t = submit("acme", 5);
    ClaimedTask c = claimOne();
    queue.complete(List.of(new Completion.Success(c, "\"first\"", null, JSON)));
    Task first = get(t.id());

    TaskQueue.CompletionResult again = queue.complete(List.of(
        new Completion.Success(c, "\"second\"", null, JSON),
        new Completion.Failure(c, "late failure", Duration.ZERO, false),
        new Completion.Release(c)));

    assertThat(again).isEqualTo(new TaskQueue.CompletionResult(0, 0, 0, 0, 0, 3));
    assertThat(get(t.id())).isEqualTo(first);
    assertThat(totals("acme").tasksSucceeded()).isEqualTo(1);
  }

  @Test
  void late_completion_with_a_stale_lease_token_changes_nothing() {
    Task t = submit("acme", 5);
    ClaimedTask c = claimOne();
    Task running = get(t.id());
    UUID realToken = leaseToken(t.id());

    ClaimedTask stale = withToken(c, UUID.randomUUID());
    TaskQueue.CompletionResult r = queue.complete(List.of(
        new Completion.Success(stale, "\"stale\"", null, JSON),
        new Completion.Failure(stale, "stale failure", Duration.ZERO, true),
        new Completion.Release(stale)));

    assertThat(r.ignored()).isEqualTo(3);
    assertThat(r.applied()).isZero();
    assertThat(get(t.id())).isEqualTo(running);
    assertThat(leaseToken(t.id())).isEqualTo(realToken);
    assertThat(queue.heartbeat(List.of(stale), LEASE)).isEmpty();
  }

  @Test
  void a_completion_from_an_earlier_attempt_is_ignored_after_the_task_was_rescued_and_claimed_again() {
    Task t = submit("acme", 5);
    ClaimedTask first = claimOne();
    exec(db, "UPDATE tasks SET lease_expires_at = now() - interval '1 second' WHERE id = ?", t.id());
    assertThat(queue.rescueExpired(100)).containsExactly(1, 0);
    ClaimedTask second = claimOne();
    assertThat(second.attempt()).isEqualTo(2);

    TaskQueue.CompletionResult late = queue.complete(List.of(new Completion.Success(first, "\"late\"", null, JSON)));

    assertThat(late.ignored()).isEqualTo(1);
    assertThat(get(t.id()).state()).isEqualTo(TaskState.RUNNING);
    assertThat(queue.complete(List.of(new Completion.Success(second, "\"ok\"", null, JSON))).succeeded()).isEqualTo(1);
    assertThat(get(t.id()).resultJson()).isEqualTo("\"ok\"");
  }

  @Test
  void a_failure_with_attempts_left_requeues_the_task_after_the_delay_and_keeps_the_error() {
    Task t = submit("acme", 3);
    ClaimedTask c = claimOne();
    Instant before = dbNow(db);

    TaskQueue.CompletionResult r =
        queue.complete(List.of(new Completion.Failure(c, "connection refused", Duration.ofSeconds(30), false)));

    Instant after = dbNow(db);
    assertThat(r).isEqualTo(new TaskQueue.CompletionResult(1, 0, 1, 0, 0, 0));
    Task retry = get(t.id());
    assertThat(retry.state()).isEqualTo(TaskState.QUEUED);
    assertThat(retry.attempts()).isEqualTo(1);
    assertThat(retry.error()).isEqualTo("connection refused");
    assertThat(retry.finishedAt()).isNull();
    assertThat(retry.runAt()).isBetween(before.plusSeconds(30), after.plusSeconds(30));
    assertThat(leaseToken(t.id())).isNull();
    assertThat(queue.claim("w", 10, LEASE)).as("not ready before its delay").isEmpty();
    assertThat(totals("acme").tasksDead()).isZero();
  }

  @Test
  void an_error_longer_than_4000_characters_is_truncated() {
    Task t = submit("acme", 3);
    ClaimedTask c = claimOne();
    queue.complete(List.of(new Completion.Failure(c, "x".repeat(10_000), Duration.ZERO, false)));
    assertThat(get(t.id()).error()).hasSize(4001).startsWith("xxxx").endsWith("…");
  }

  @Test
  void a_failure_of_the_last_attempt_makes_the_task_dead() {
    Task t = submit("acme", 2);
    queue.complete(List.of(new Completion.Failure(claimOne(), "first", Duration.ZERO, false)));
    ClaimedTask last = claimOne();
    assertThat(last.attempt()).isEqualTo(2).isEqualTo(last.maxAttempts());
    Instant before = dbNow(db);

    TaskQueue.CompletionResult r = queue.complete(List.of(new Completion.Failure(last, "second", Duration.ZERO, false)));

    Instant after = dbNow(db);
    assertThat(r).isEqualTo(new TaskQueue.CompletionResult(1, 0, 0, 1, 0, 0));
    Task dead = get(t.id());
    assertThat(dead.state()).isEqualTo(TaskState.DEAD);
    assertThat(dead.attempts()).isEqualTo(2);
    assertThat(dead.error()).isEqualTo("second");
    assertThat(dead.finishedAt()).isBetween(before, after);
    assertThat(leaseToken(t.id())).isNull();
    assertThat(queue.claim("w", 10, LEASE)).isEmpty();
  }

  @Test
  void a_permanent_failure_makes_the_task_dead_even_with_attempts_left() {
    Task t = submit("acme", 5);
    TaskQueue.CompletionResult r =
        queue.complete(List.of(new Completion.Failure(claimOne(), "bad input", Duration.ofSeconds(5), true)));

    assertThat(r.dead()).isEqualTo(1);
    Task dead = get(t.id());
    assertThat(dead.state()).isEqualTo(TaskState.DEAD);
    assertThat(dead.attempts()).isEqualTo(1);
    assertThat(dead.error()).isEqualTo("bad input");
    assertThat(dead.finishedAt()).isNotNull();
  }

  @Test
  void a_release_requeues_the_task_without_counting_the_attempt() {
    Task t = submit("acme", 5);
    ClaimedTask c = claimOne();

    TaskQueue.CompletionResult r = queue.complete(List.of(new Completion.Release(c)));

    assertThat(r).isEqualTo(new TaskQueue.CompletionResult(1, 0, 0, 0, 1, 0));
    Task back = get(t.id());
    assertThat(back.state()).isEqualTo(TaskState.QUEUED);
    assertThat(back.attempts()).isZero();
    assertThat(leaseToken(t.id())).isNull();
    assertThat(one(db, String.class, "SELECT worker FROM tasks WHERE id = ?", t.id())).isNull();
    ClaimedTask again = claimOne();
    assertThat(again.id()).isEqualTo(t.id());
    assertThat(again.attempt()).isEqualTo(1);
  }

  @Test
  void a_mixed_batch_applies_each_outcome() {
    Task ok = submit("acme", 5);
    Task retry = submit("acme", 5);
    Task dead = submit("globex", 1);
    Task released = submit("acme", 5);
    List<ClaimedTask> claimed = queue.claim("w", 10, LEASE);
    java.util.Map<UUID, ClaimedTask> byId = new java.util.HashMap<>();
    claimed.forEach(c -> byId.put(c.id(), c));

    TaskQueue.CompletionResult r = queue.complete(List.of(
        new Completion.Success(byId.get(ok.id()), "1", null, JSON),
        new Completion.Failure(byId.get(retry.id()), "later", Duration.ofMinutes(1), false),
        new Completion.Failure(byId.get(dead.id()), "no more", Duration.ZERO, false),
        new Completion.Release(byId.get(released.id())),
        new Completion.Success(withToken(byId.get(ok.id()), UUID.randomUUID()), "2", null, JSON)));

    assertThat(r).isEqualTo(new TaskQueue.CompletionResult(4, 1, 1, 1, 1, 1));
    assertThat(get(ok.id()).state()).isEqualTo(TaskState.SUCCEEDED);
    assertThat(get(ok.id()).resultJson()).isEqualTo("1");
    assertThat(get(retry.id()).state()).isEqualTo(TaskState.QUEUED);
    assertThat(get(dead.id()).state()).isEqualTo(TaskState.DEAD);
    assertThat(get(released.id()).state()).isEqualTo(TaskState.QUEUED);
  }

  // ------------------------------------------------------------------ heartbeat and rescue

  @Test
  void heartbeat_extends_leases_and_returns_only_the_tasks_still_held() {
    Task kept1 = submit("acme", 5);
    Task kept2 = submit("acme", 5);
    Task cancelled = submit("acme", 5);
    List<ClaimedTask> held = queue.claim("w", 10, Duration.ofSeconds(10));
    assertThat(held).hasSize(3);
    Instant oldExpiry = leaseExpiry(kept1.id());
    repo.cancel("acme", cancelled.id());
    Instant before = dbNow(db);

    Set<UUID> still = queue.heartbeat(held, Duration.ofMinutes(5));

    Instant after = dbNow(db);
    assertThat(still).containsExactlyInAnyOrder(kept1.id(), kept2.id());
    assertThat(leaseExpiry(kept1.id())).isAfter(oldExpiry).isBetween(before.plus(Duration.ofMinutes(5)),
        after.plus(Duration.ofMinutes(5)));
    assertThat(leaseExpiry(kept2.id())).isBetween(before.plus(Duration.ofMinutes(5)), after.plus(Duration.ofMinutes(5)));
    assertThat(get(cancelled.id()).state()).isEqualTo(TaskState.CANCELLED);
    assertThat(one(db, OffsetDateTime.class, "SELECT lease_expires_at FROM tasks WHERE id = ?", cancelled.id())).isNull();
  }

  /**
   * A worker heartbeats the leases it holds while its completer writes outcomes of some of them. The
   * completion transaction wrote successes, then failures, each in batch order, and the heartbeat took
   * its rows in its own order, so each could hold a row the other needed next: PostgreSQL aborted one
   * with "deadlock detected" after deadlock_timeout. Both now take their rows in id order. An open
   * transaction holding the success row makes the interleaving certain: the completion waits for it
   * first, then the heartbeat takes the failure row and queues behind the completion for the success
   * row.
   */
  @Test
  void a_heartbeat_running_during_a_completion_of_the_same_tasks_does_not_deadlock() throws Exception {
    submit("acme", 5);
    submit("acme", 5);
    List<ClaimedTask> held = queue.claim("worker-1", 2, LEASE);
    assertThat(held).hasSize(2);
    List<ClaimedTask> byId = held.stream().sorted(java.util.Comparator.comparing(ClaimedTask::id)).toList();
    ClaimedTask first = byId.get(0);
    ClaimedTask second = byId.get(1);
    // orders that used to cross: the completion writes `second` (success) before `first` (failure),
    // while the heartbeat takes `first` before `second`
    List<Completion> outcomes = List.of(
        new Completion.Success(second, "1", null, JSON),
        new Completion.Failure(first, "boom", Duration.ZERO, false));
    List<ClaimedTask> heartbeatOrder = List.of(first, second);

    try (Connection holder = db.connection(); ExecutorService pool = Executors.newFixedThreadPool(2)) {
      holder.setAutoCommit(false);
      try (Statement s = holder.createStatement()) {
        s.execute("SELECT 1 FROM tasks WHERE id = '" + second.id() + "' FOR NO KEY UPDATE");
      }
      Future<TaskQueue.CompletionResult> completion = pool.submit(() -> queue.complete(outcomes));
      awaitLockWaiters(1);
      Future<Set<UUID>> heartbeat = pool.submit(() -> queue.heartbeat(heartbeatOrder, LEASE));
      awaitLockWaiters(2);
      holder.commit();

      TaskQueue.CompletionResult r = completion.get(30, TimeUnit.SECONDS);
      Set<UUID> still = heartbeat.get(30, TimeUnit.SECONDS);
      assertThat(r).isEqualTo(new TaskQueue.CompletionResult(2, 1, 1, 0, 0, 0));
      assertThat(still).isSubsetOf(first.id(), second.id());
    }
    assertThat(get(second.id()).state()).isEqualTo(TaskState.SUCCEEDED);
    assertThat(get(first.id()).state()).isEqualTo(TaskState.QUEUED);
  }

  private static void awaitLockWaiters(int n) {
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> count(db,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'") == n);
  }

  @Test
  void heartbeat_of_nothing_is_nothing() {
    assertThat(queue.heartbeat(List.of(), LEASE)).isEmpty();
  }

  @Test
  void rescue_returns_expired_running_tasks_to_the_queue_or_makes_them_dead_and_leaves_live_leases_alone() {
    Task retryable = submit("acme", 3);
    Task lastAttempt = submit("globex", 1);
    Task live = submit("acme", 3);
    List<ClaimedTask> held = queue.claim("worker-9", 10, LEASE);
    assertThat(held).hasSize(3);
    exec(db, "UPDATE tasks SET lease_expires_at = now() - interval '5 seconds' WHERE id IN (?, ?)",
        retryable.id(), lastAttempt.id());
    Instant liveExpiry = leaseExpiry(live.id());

    int[] rescued = queue.rescueExpired(100);

    assertThat(rescued).containsExactly(1, 1);
    Task back = get(retryable.id());
    assertThat(back.state()).isEqualTo(TaskState.QUEUED);
    assertThat(back.attempts()).isEqualTo(1);
    assertThat(back.error()).contains("lease expired").contains("worker-9").contains("attempt 1");
    assertThat(back.finishedAt()).isNull();
    assertThat(leaseToken(retryable.id())).isNull();

    Task dead = get(lastAttempt.id());
    assertThat(dead.state()).isEqualTo(TaskState.DEAD);
    assertThat(dead.finishedAt()).isNotNull();
    assertThat(leaseToken(lastAttempt.id())).isNull();

    Task stillRunning = get(live.id());
    assertThat(stillRunning.state()).isEqualTo(TaskState.RUNNING);
    assertThat(leaseExpiry(live.id())).isEqualTo(liveExpiry);

    assertThat(totals("globex").tasksDead()).isEqualTo(1);
    assertThat(totals("acme").tasksDead()).isZero();
    // the rescued worker's heartbeat no longer holds the two expired tasks
    assertThat(queue.heartbeat(held, LEASE)).containsExactly(live.id());
    // nothing left to rescue
    assertThat(queue.rescueExpired(100)).containsExactly(0, 0);
  }

  @Test
  void rescue_takes_at_most_the_limit() {
    for (int i = 0; i < 5; i++) submit("acme", 3);
    queue.claim("w", 10, LEASE);
    exec(db, "UPDATE tasks SET lease_expires_at = now() - interval '1 minute'");

    assertThat(queue.rescueExpired(2)).containsExactly(2, 0);
    assertThat(queue.rescueExpired(10)).containsExactly(3, 0);
  }

  // ------------------------------------------------------------------ usage and constraints

  @Test
  void completions_count_succeeded_and_dead_tasks_per_tenant_in_usage_minutes() {
    submit("acme", 5);
    submit("acme", 5);
    submit("globex", 1);
    submit("globex", 5);
    List<Completion> outcomes = new ArrayList<>();
    for (ClaimedTask c : queue.claim("w", 10, LEASE)) {
      if (c.tenant().equals("acme")) outcomes.add(new Completion.Success(c, "1", null, JSON));
      else if (c.maxAttempts() == 1) outcomes.add(new Completion.Failure(c, "x", Duration.ZERO, false));
      else outcomes.add(new Completion.Failure(c, "x", Duration.ZERO, true));
    }
    Instant minute = dbNow(db).truncatedTo(java.time.temporal.ChronoUnit.MINUTES);

    queue.complete(outcomes);

    UsageRepository.Counts acme = totals("acme");
    UsageRepository.Counts globex = totals("globex");
    assertThat(acme.tasksSucceeded()).isEqualTo(2);
    assertThat(acme.tasksDead()).isZero();
    assertThat(globex.tasksSucceeded()).isZero();
    assertThat(globex.tasksDead()).isEqualTo(2);
    assertThat(usage.report("acme", minute.minusSeconds(60)).minutes())
        .singleElement()
        .satisfies(m -> assertThat(m.minute()).isAfterOrEqualTo(minute));

    // a second batch in the same minute adds to the same row
    submit("acme", 5);
    queue.complete(List.of(new Completion.Success(claimOne(), "1", null, JSON)));
    assertThat(totals("acme").tasksSucceeded()).isEqualTo(3);
  }

  @Test
  void the_database_rejects_a_running_task_without_a_lease_token() {
    Task t = submit("acme", 5);

    assertThatThrownBy(() -> sql("UPDATE tasks SET state = 'running' WHERE id = '" + t.id() + "'"))
        .isInstanceOf(SQLException.class)
        .hasMessageContaining("tasks_lease_token_iff_running");
    assertThatThrownBy(() -> sql("UPDATE tasks SET lease_token = gen_random_uuid() WHERE id = '" + t.id() + "'"))
        .as("nor a queued task with one")
        .isInstanceOf(SQLException.class)
        .hasMessageContaining("tasks_lease_token_iff_running");
    ClaimedTask c = claimOne();
    assertThatThrownBy(() -> sql("UPDATE tasks SET lease_token = NULL WHERE id = '" + c.id() + "'"))
        .isInstanceOf(SQLException.class)
        .hasMessageContaining("tasks_lease_token_iff_running");
    assertThat(get(t.id()).state()).isEqualTo(TaskState.RUNNING);
  }

  @Test
  void stats_count_ready_scheduled_and_running_tasks() {
    submit("acme", 5);
    submit("acme", 5);
    submit(task("acme", "echo", 0, 5, Instant.now().plus(Duration.ofHours(1))));
    submit(task("acme", "echo", 0, 5, Instant.now().minusSeconds(120)));
    claimOne();

    TaskQueue.Stats s = queue.stats();

    assertThat(s.ready()).isEqualTo(2);
    assertThat(s.scheduled()).isEqualTo(1);
    assertThat(s.running()).isEqualTo(1);
    assertThat(s.oldestReadyAgeSeconds()).isGreaterThanOrEqualTo(0).isLessThan(60);
  }

  private static void sql(String statement) throws SQLException {
    try (Connection c = db.connection(); Statement s = c.createStatement()) {
      s.execute(statement);
    }
  }
}
