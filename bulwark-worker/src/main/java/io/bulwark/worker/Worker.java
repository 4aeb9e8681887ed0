package io.bulwark.worker;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.bulwark.core.blob.BlobRef;
import io.bulwark.core.blob.BlobStore;
import io.bulwark.core.handler.HandlerRegistry;
import io.bulwark.core.handler.TaskContext;
import io.bulwark.core.handler.TaskHandler;
import io.bulwark.core.handler.TaskResult;
import io.bulwark.core.metrics.Metrics;
import io.bulwark.core.task.TaskLimits;
import io.bulwark.postgres.ClaimedTask;
import io.bulwark.postgres.Completion;
import io.bulwark.postgres.Database;
import io.bulwark.postgres.PgListener;
import io.bulwark.postgres.Retention;
import io.bulwark.postgres.TaskQueue;
import io.bulwark.postgres.TaskRepository;
import io.bulwark.postgres.UsageRepository;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs tasks from the queue. One claim loop takes batches of ready tasks (woken by LISTEN/NOTIFY,
 * polling as a fallback) while permits remain; each task runs on its own virtual thread; outcomes
 * go to one completer thread that writes them in batches. A heartbeat extends the leases this worker
 * holds and stops the handlers of tasks it no longer holds (cancelled, or rescued after a stall). A
 * rescuer returns other workers' expired leases to the queue.
 *
 * <p>A handler can never stall the worker: its slot is freed at its timeout whether or not it honours
 * the interrupt, and whatever it throws or returns becomes a recorded outcome.
 */
public final class Worker implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Worker.class);
  private static final JsonFactory JSON = new JsonFactory();
  private static final String JSON_TYPE = "application/json";

  private final WorkerConfig config;
  private final Database db;
  private final TaskQueue queue;
  private final UsageRepository usage;
  private final BlobStore blobs;
  private final Retention retention;
  private final HandlerRegistry handlers;
  private final WorkerMetrics metrics;
  private final String workerId;

  private final Semaphore slots;
  /** Input bytes of the tasks admitted and not yet finished: within config.inputBudgetBytes() (a larger input runs alone). */
  private final AtomicLong inputBytes = new AtomicLong();
  private final BlockingQueue<Boolean> wake = new ArrayBlockingQueue<>(1);
  /** The claim loop waits for running tasks to free input bytes (after handing tasks back). */
  private volatile boolean waitingForInput;
  private final LinkedBlockingQueue<Completion> outcomes = new LinkedBlockingQueue<>();
  private final Map<UUID, Execution> running = new ConcurrentHashMap<>();
  private final Map<UUID, ClaimedTask> held = new ConcurrentHashMap<>();
  private final ExecutorService executor = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("task-", 0).factory());
  private final ScheduledExecutorService timers;
  private final AtomicBoolean claiming = new AtomicBoolean(true);
  private final AtomicBoolean completing = new AtomicBoolean(true);
  private volatile boolean healthy = true;
  private Thread claimThread;
  private Thread completerThread;
  private PgListener listener;

  public Worker(WorkerConfig config, Database db, BlobStore blobs, HandlerRegistry handlers, Metrics metrics) {
    this.config = config;
    this.db = db;
    this.queue = new TaskQueue(db);
    this.usage = new UsageRepository(db);
    this.blobs = blobs;
    this.retention = new Retention(db, blobs);
    this.handlers = handlers;
    this.metrics = new WorkerMetrics(metrics);
    this.workerId = config.name() + "-" + UUID.randomUUID().toString().substring(0, 8);
    this.slots = new Semaphore(config.concurrency());
    this.timers = Executors.newScheduledThreadPool(2, Thread.ofPlatform().daemon().name(config.name() + "-timer-", 0).factory());
    metrics.gauge("worker_tasks_running", "Tasks running in this worker", () -> running.size());
    metrics.gauge("worker_leases_held", "Leases held (running or awaiting their completion write)", () -> held.size());
    metrics.gauge("worker_concurrency", "Most tasks this worker runs at once", config::concurrency);
    metrics.gauge("worker_input_bytes", "Input bytes held by the running tasks (bounded by the input budget)", inputBytes::get);
  }

  public String workerId() {
    return workerId;
  }

  public void start() {
    log.info("[{}] starting: {} handlers {} concurrency={} claimBatch={} lease={}ms heartbeat={}ms", workerId,
        handlers.types().size(), handlers.types(), config.concurrency(), config.claimBatch(), config.lease().toMillis(),
        config.heartbeat().toMillis());
    listener = new PgListener(db.config(), TaskRepository.QUEUED_CHANNEL, this::wakeUp);
    completerThread = Thread.ofPlatform().name(config.name() + "-completer").start(this::completeLoop);
    claimThread = Thread.ofPlatform().name(config.name() + "-claimer").start(this::claimLoop);
    long hb = config.heartbeat().toMillis();
    timers.scheduleWithFixedDelay(this::heartbeat, hb, hb, TimeUnit.MILLISECONDS);
    long rescue = config.rescueInterval().toMillis();
    timers.scheduleWithFixedDelay(this::rescue, 0, rescue, TimeUnit.MILLISECONDS);
    timers.scheduleWithFixedDelay(this::maintenance, 1, 60, TimeUnit.MINUTES);
    timers.scheduleWithFixedDelay(this::sweepRetention, 1, RETENTION_SWEEP_MINUTES, TimeUnit.MINUTES);
  }

  /** How often each worker sweeps finished tasks past their retention (several sweeping share the work). */
  static final int RETENTION_SWEEP_MINUTES = 5;

  /** Deletes finished tasks past their tenant's retention, with their blobs; returns what it deleted. */
  public Retention.Swept sweepRetention() {
    try {
      Retention.Swept s = retention.sweep(500, 20);
      metrics.expiredTasks.add(s.tasks());
      metrics.expiredBytes.add(s.bytes());
      return s;
    } catch (RuntimeException e) {
      // the database or the blob store failed: the batch rolled back, nothing is lost; the next sweep tries again
      metrics.dbErrors.inc();
      log.warn("[{}] retention sweep failed, will retry in {} min: {}", workerId, RETENTION_SWEEP_MINUTES, e.getMessage());
      return new Retention.Swept(0, 0, 0);
    }
  }

  /** True while the claim loop runs and the database answered its last call. */
  public boolean isHealthy() {
    return healthy && claiming.get();
  }

  public int runningCount() {
    return running.size();
  }

  private void wakeUp() {
    wake.offer(Boolean.TRUE);
  }

  // ---------------------------------------------------------------- claim loop

  private void claimLoop() {
    while (claiming.get()) {
      try {
        slots.acquire();
        int n = 1 + drainPermits(config.claimBatch() - 1);
        List<ClaimedTask> claimed;
        long t0 = System.nanoTime();
        try {
          claimed = queue.claim(workerId, n, config.lease());
          healthy = true;
        } catch (RuntimeException e) {
          slots.release(n);
          onDatabaseError("claim", e);
          waitForWork();
          continue;
        }
        metrics.claimSeconds.observeNanos(System.nanoTime() - t0);
        if (claimed.size() < n) slots.release(n - claimed.size());
        metrics.claimed.add(claimed.size());
        int handedBack = 0;
        for (ClaimedTask task : claimed) {
          held.put(task.id(), task);
          long size = inputSize(task);
          if (!admit(size)) {
            // its input does not fit in what the running tasks leave of the budget: queued again at once,
            // the attempt not counted (so a crash of this worker cannot charge a task it never started)
            outcomes.add(new Completion.Release(task));
            handedBack++;
            continue;
          }
          Execution ex = new Execution(task, size);
          running.put(task.id(), ex);
          executor.execute(ex);
        }
        metrics.handedBack.add(handedBack);
        if (handedBack > 0) awaitInputFreed(inputBytes.get());
        else if (claimed.size() < n) waitForWork();
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  private static long inputSize(ClaimedTask task) {
    if (task.inputBlob() != null) return task.inputBlob().size();
    return task.inputJson() == null ? 0 : task.inputJson().length();
  }

  /** Takes {@code size} bytes of the input budget, unless they do not fit (nothing is held: then anything fits). */
  private boolean admit(long size) {
    while (true) {
      long now = inputBytes.get();
      if (now > 0 && now + size > config.inputBudgetBytes()) return false;
      if (inputBytes.compareAndSet(now, now + size)) return true;
    }
  }

  private void freeInput(long size) {
    if (size > 0) {
      inputBytes.addAndGet(-size);
      // only a claim loop waiting for input bytes wants to know: waking it otherwise would make it
      // claim once per finished task, an empty claim at low load
      if (waitingForInput) wakeUp();
    }
  }

  private int drainPermits(int max) {
    int got = 0;
    while (got < max && slots.tryAcquire()) got++;
    return got;
  }

  /**
   * After handing tasks back: waits until a running task frees input bytes, or for the poll interval
   * (small inputs may still fit), but not for a mere notification of queued tasks: the hand-back itself
   * sends one, and claiming on it would hand the same tasks back again and again.
   */
  private void awaitInputFreed(long level) throws InterruptedException {
    long deadline = System.nanoTime() + config.poll().toNanos();
    waitingForInput = true; // before the first check: a release after it sees the flag and wakes this loop
    try {
      while (inputBytes.get() >= level && claiming.get()) {
        long left = deadline - System.nanoTime();
        if (left <= 0) return;
        wake.poll(left, TimeUnit.NANOSECONDS);
      }
    } finally {
      waitingForInput = false;
    }
  }

  private void waitForWork() throws InterruptedException {
    wake.poll(config.poll().toMillis(), TimeUnit.MILLISECONDS);
  }

  // ---------------------------------------------------------------- one attempt

  /** One attempt of one task: the handler on a virtual thread, a watchdog for its timeout. */
  private final class Execution implements Runnable, TaskContext {
    final ClaimedTask task;
    /** Its share of the input budget, given back when the handler returns. */
    final long inputSize;
    final AtomicBoolean finished = new AtomicBoolean();
    volatile boolean cancelled;
    volatile Thread thread;
    volatile ScheduledFuture<?> watchdog;
    byte[] input;

    Execution(ClaimedTask task, long inputSize) {
      this.task = task;
      this.inputSize = inputSize;
    }

    @Override
    public void run() {
      thread = Thread.currentThread();
      watchdog = timers.schedule(this::timeOut, task.timeoutSeconds(), TimeUnit.SECONDS);
      long t0 = System.nanoTime();
      Completion outcome;
      try {
        TaskHandler handler = handlers.find(task.type()).orElse(null);
        if (handler == null) {
          outcome = failure("no handler for task type '" + task.type() + "' in worker " + workerId
              + "; install its jar in the handlers/ folder of every worker", true);
        } else {
          input = loadInput();
          outcome = toCompletion(handler.handle(this));
        }
      } catch (InterruptedException e) {
        outcome = failure(cancelled ? "cancelled" : "interrupted", false);
      } catch (Throwable e) {
        outcome = failure(describe(e), false);
      } finally {
        watchdog.cancel(false);
        metrics.handlerSeconds.observeNanos(System.nanoTime() - t0);
        input = null;
        freeInput(inputSize);
      }
      finish(outcome);
    }

    private byte[] loadInput() {
      if (task.inputBlob() != null) return blobs.get(task.inputBlob());
      return task.inputJson() == null ? "null".getBytes(StandardCharsets.UTF_8)
          : task.inputJson().getBytes(StandardCharsets.UTF_8);
    }

    private Completion toCompletion(TaskResult result) {
      if (result == null) return failure("handler for '" + task.type() + "' returned null instead of a TaskResult", false);
      byte[] data = result.data();
      if (result.isJson()) {
        if (!isValidJson(data)) {
          return failure("handler for '" + task.type() + "' returned invalid JSON (" + data.length + " bytes)", false);
        }
        if (data.length <= TaskLimits.INLINE_LIMIT_BYTES) {
          return new Completion.Success(task, new String(data, StandardCharsets.UTF_8), null, JSON_TYPE);
        }
      }
      BlobRef ref = blobs.put("tasks/" + task.id() + "/result-" + task.attempt(), data);
      return new Completion.Success(task, null, ref, result.contentType());
    }

    private Completion failure(String error, boolean permanent) {
      Duration delay = permanent ? Duration.ZERO : config.retry().delayAfter(task.attempt());
      return new Completion.Failure(task, error, delay, permanent);
    }

    /** Called by the watchdog: record the timeout and free the slot even if the handler ignores the interrupt. */
    private void timeOut() {
      metrics.timeouts.inc();
      if (finish(failure("timed out after " + task.timeoutSeconds() + " s (attempt " + task.attempt() + ")", false))) {
        Thread t = thread;
        if (t != null) t.interrupt();
      }
    }

    /** The lease is gone (cancelled or rescued): stop the handler; nothing is written. */
    void leaseLost() {
      cancelled = true;
      if (finish(null)) {
        Thread t = thread;
        if (t != null) t.interrupt();
      }
    }

    /**
     * Records the outcome once; later calls (a late handler after a timeout) change nothing. The slot is
     * freed when the outcome is written (by the completer), so claimed-but-unwritten work stays bounded
     * by the concurrency even when the database is slow.
     */
    boolean finish(Completion outcome) {
      if (!finished.compareAndSet(false, true)) return false;
      running.remove(task.id());
      if (outcome != null) {
        outcomes.add(outcome);
      } else {
        held.remove(task.id());
        slots.release();
      }
      return true;
    }

    @Override public UUID taskId() { return task.id(); }
    @Override public String tenant() { return task.tenant(); }
    @Override public String type() { return task.type(); }
    @Override public int attempt() { return task.attempt(); }
    @Override public byte[] input() { return input; }
    @Override public String inputContentType() {
      return task.inputContentType() == null ? JSON_TYPE : task.inputContentType();
    }
    @Override public boolean isCancelled() { return cancelled || finished.get(); }
  }

  static boolean isValidJson(byte[] data) {
    try (JsonParser p = JSON.createParser(data)) {
      if (p.nextToken() == null) return false;
      p.skipChildren();
      return p.nextToken() == null;
    } catch (java.io.IOException e) {
      return false;
    }
  }

  private static String describe(Throwable e) {
    String msg = e.getMessage();
    return e.getClass().getSimpleName() + (msg == null ? "" : ": " + msg);
  }

  // ---------------------------------------------------------------- completer

  private void completeLoop() {
    List<Completion> batch = new ArrayList<>(1024);
    while (completing.get() || !outcomes.isEmpty() || !batch.isEmpty()) {
      try {
        if (batch.isEmpty()) {
          Completion first = outcomes.poll(100, TimeUnit.MILLISECONDS);
          if (first == null) continue;
          batch.add(first);
        }
        outcomes.drainTo(batch, 2000 - batch.size());
        long t0 = System.nanoTime();
        TaskQueue.CompletionResult r = queue.complete(batch);
        metrics.completeSeconds.observeNanos(System.nanoTime() - t0);
        healthy = true;
        metrics.succeeded.add(r.succeeded());
        metrics.retried.add(r.retried());
        metrics.dead.add(r.dead());
        metrics.released.add(r.released());
        metrics.ignoredCompletions.add(r.ignored());
        for (Completion c : batch) held.remove(c.task().id());
        slots.release(batch.size());
        batch.clear();
      } catch (InterruptedException e) {
        if (!completing.get()) return;
      } catch (RuntimeException e) {
        // Keep the batch and try again: an outcome is never dropped while this worker runs. If the outage
        // outlasts the lease, the tasks are rescued and run again (at-least-once), and this write is ignored.
        onDatabaseError("complete", e);
        try {
          Thread.sleep(200); // retry backoff
        } catch (InterruptedException ie) {
          if (!completing.get()) return;
        }
      }
    }
  }

  // ---------------------------------------------------------------- heartbeat, rescue, maintenance

  private void heartbeat() {
    List<ClaimedTask> leases = new ArrayList<>(held.values());
    if (leases.isEmpty()) return;
    try {
      Set<UUID> still = queue.heartbeat(leases, config.lease());
      for (ClaimedTask t : leases) {
        if (still.contains(t.id())) continue;
        Execution ex = running.get(t.id());
        if (ex != null) {
          metrics.leasesLost.inc();
          log.info("[{}] lost lease of task {} (cancelled or rescued); stopping its handler", workerId, t.id());
          ex.leaseLost();
        }
      }
    } catch (RuntimeException e) {
      onDatabaseError("heartbeat", e);
    }
  }

  private void rescue() {
    try {
      int[] r = queue.rescueExpired(1000);
      if (r[0] + r[1] > 0) {
        metrics.rescued.add(r[0]);
        metrics.rescuedDead.add(r[1]);
        log.warn("[{}] rescued {} task(s) with expired leases back to the queue, {} dead (no attempts left)",
            workerId, r[0], r[1]);
      }
    } catch (RuntimeException e) {
      onDatabaseError("rescue", e);
    }
  }

  private void maintenance() {
    try {
      // idempotency keys older than 24 h are pruned by the retention sweep, every 5 minutes, before it deletes tasks
      int days = usage.rollUp(java.time.Instant.now().minus(UsageRepository.MINUTE_RETENTION));
      if (days > 0) log.info("[{}] rolled usage minutes older than {} d up into {} tenant-day row(s)", workerId,
          UsageRepository.MINUTE_RETENTION.toDays(), days);
    } catch (RuntimeException e) {
      onDatabaseError("maintenance", e);
    }
  }

  private long lastDbErrorLog;

  private void onDatabaseError(String what, RuntimeException e) {
    healthy = false;
    metrics.dbErrors.inc();
    long now = System.nanoTime();
    if (now - lastDbErrorLog > TimeUnit.SECONDS.toNanos(5)) {
      lastDbErrorLog = now;
      log.warn("[{}] {} failed, will retry: {}", workerId, what, e.getMessage());
    }
  }

  // ---------------------------------------------------------------- shutdown

  /**
   * Graceful stop: claim nothing more, let running tasks finish within the grace period, hand back the
   * rest (queued again without counting the attempt), write every outcome, then stop.
   */
  @Override
  public void close() {
    if (!claiming.getAndSet(false)) return;
    log.info("[{}] stopping: {} task(s) running, grace {} ms", workerId, running.size(), config.shutdownGrace().toMillis());
    if (claimThread != null) claimThread.interrupt();
    if (listener != null) listener.close();
    long deadline = System.nanoTime() + config.shutdownGrace().toNanos();
    while (!running.isEmpty() && System.nanoTime() < deadline) {
      try {
        Thread.sleep(20); // bounded by the grace deadline: polling running tasks' completion
      } catch (InterruptedException e) {
        break;
      }
    }
    for (Execution ex : List.copyOf(running.values())) {
      ex.cancelled = true;
      if (ex.finish(new Completion.Release(ex.task))) {
        Thread t = ex.thread;
        if (t != null) t.interrupt();
      }
    }
    completing.set(false);
    if (completerThread != null) {
      try {
        completerThread.join(Duration.ofSeconds(10));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    timers.shutdownNow();
    executor.shutdownNow();
    log.info("[{}] stopped; {} outcome(s) not written (their leases will expire and be rescued)", workerId, outcomes.size());
  }
}
