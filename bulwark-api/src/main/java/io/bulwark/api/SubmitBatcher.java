package io.bulwark.api;

import io.bulwark.core.metrics.Metrics;
import io.bulwark.postgres.NewTask;
import io.bulwark.postgres.SubmitOutcome;
import io.bulwark.postgres.TaskRepository;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Group commit for single-task submissions: concurrent requests are queued, and each writer thread
 * takes whatever has accumulated and inserts it in one transaction, so N requests cost one fsync
 * instead of N. Nothing is acknowledged before its transaction commits. Two writers let one batch's
 * commit overlap the next batch's insert.
 */
final class SubmitBatcher implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SubmitBatcher.class);
  static final int MAX_BATCH = 500;
  static final int WRITERS = 2;

  record Pending(NewTask task, CompletableFuture<SubmitOutcome> result) {}

  private final TaskRepository tasks;
  private final LinkedBlockingQueue<Pending> queue = new LinkedBlockingQueue<>();
  private final List<Thread> writers = new ArrayList<>();
  private final Metrics.Histogram batchSizes;
  private volatile boolean running = true;

  SubmitBatcher(String name, TaskRepository tasks, Metrics metrics) {
    this.tasks = tasks;
    this.batchSizes = metrics.histogram("api_submit_batch_size", "Tasks per group-commit transaction",
        new double[] {1, 2, 5, 10, 20, 50, 100, 200, 500});
    for (int i = 0; i < WRITERS; i++) {
      writers.add(Thread.ofPlatform().daemon().name(name + "-submit-" + i).start(this::run));
    }
  }

  CompletableFuture<SubmitOutcome> submit(NewTask task) {
    CompletableFuture<SubmitOutcome> f = new CompletableFuture<>();
    if (!running) {
      f.completeExceptionally(ApiProblem.unavailable("server is shutting down; retry on another server"));
      return f;
    }
    queue.add(new Pending(task, f));
    return f;
  }

  private void run() {
    List<Pending> batch = new ArrayList<>(MAX_BATCH);
    while (running || !queue.isEmpty()) {
      try {
        Pending first = queue.poll(100, TimeUnit.MILLISECONDS);
        if (first == null) continue;
        batch.add(first);
        queue.drainTo(batch, MAX_BATCH - 1);
        write(batch);
      } catch (InterruptedException e) {
        if (!running) break;
      } finally {
        batch.clear();
      }
    }
  }

  /**
   * One transaction for the whole batch. If PostgreSQL refuses it for what one request holds (a data
   * or constraint error), the requests are written again one by one, so that the bad request, whoever
   * sent it, fails alone instead of failing the up to {@value #MAX_BATCH} others it was grouped with.
   * Any other failure (unavailable, out of space, timed out) fails the whole batch at once: writing it
   * again request by request would only load a struggling database.
   */
  void write(List<Pending> batch) {
    List<NewTask> rows = new ArrayList<>(batch.size());
    for (Pending p : batch) rows.add(p.task());
    try {
      List<SubmitOutcome> outcomes = tasks.submit(rows, false);
      batchSizes.observe(batch.size());
      for (int i = 0; i < batch.size(); i++) batch.get(i).result().complete(outcomes.get(i));
    } catch (RuntimeException e) {
      if (batch.size() == 1 || !refusedForItsData(e)) {
        if (refusedForItsData(e)) log.warn("a submission was refused by the database: {}", e.getMessage());
        else log.debug("group commit of {} task(s) failed: {}", batch.size(), e.getMessage());
        for (Pending p : batch) p.result().completeExceptionally(e);
        return;
      }
      log.warn("group commit of {} task(s) refused ({}); writing them one by one", batch.size(), e.getMessage());
      writeOneByOne(batch);
    }
  }

  private void writeOneByOne(List<Pending> batch) {
    for (int i = 0; i < batch.size(); i++) {
      Pending p = batch.get(i);
      try {
        p.result().complete(tasks.submit(List.of(p.task()), false).get(0));
      } catch (RuntimeException e) {
        p.result().completeExceptionally(e);
        if (refusedForItsData(e)) continue; // this request's own fault
        for (Pending rest : batch.subList(i + 1, batch.size())) rest.result().completeExceptionally(e);
        return;
      }
    }
  }

  /** PostgreSQL refused a value (SQLSTATE class 22, data exception) or a constraint (23): one request's fault. */
  static boolean refusedForItsData(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof java.sql.SQLException s && s.getSQLState() != null
          && (s.getSQLState().startsWith("22") || s.getSQLState().startsWith("23"))) {
        return true;
      }
    }
    return false;
  }

  @Override
  public void close() {
    running = false;
    for (Thread t : writers) {
      try {
        t.join(5000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    // A submit that passed the running check as the writers exited would otherwise wait out its
    // timeout: nothing was written for it, so say so at once.
    for (Pending p; (p = queue.poll()) != null; ) {
      p.result().completeExceptionally(ApiProblem.unavailable("server is shutting down; nothing was stored. Retry on another server"));
    }
  }
}
