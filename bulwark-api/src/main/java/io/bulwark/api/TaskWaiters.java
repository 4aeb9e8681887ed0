package io.bulwark.api;

import io.bulwark.core.task.Task;
import io.bulwark.postgres.TaskRepository;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * Long polls ({@code GET /v1/tasks/{id}?wait=N}). Waiters register a future per task; one thread
 * re-reads all waited-for tasks in a single query whenever a worker signals completions (NOTIFY on
 * {@code bulwark_task_done}) and at least every 500 ms, and completes the futures of finished tasks.
 */
final class TaskWaiters implements AutoCloseable {
  private final TaskRepository tasks;
  private final Map<UUID, List<CompletableFuture<Task>>> waiters = new ConcurrentHashMap<>();
  private final BlockingQueue<Boolean> signal = new ArrayBlockingQueue<>(1);
  private final Thread thread;
  private volatile boolean running = true;

  TaskWaiters(String name, TaskRepository tasks) {
    this.tasks = tasks;
    this.thread = Thread.ofPlatform().daemon().name(name + "-waiters").start(this::run);
  }

  void signal() {
    signal.offer(Boolean.TRUE);
  }

  CompletableFuture<Task> await(UUID id) {
    CompletableFuture<Task> f = new CompletableFuture<>();
    waiters.computeIfAbsent(id, k -> new CopyOnWriteArrayList<>()).add(f);
    signal();
    return f;
  }

  void forget(UUID id, CompletableFuture<Task> f) {
    waiters.computeIfPresent(id, (k, list) -> {
      list.remove(f);
      return list.isEmpty() ? null : list;
    });
  }

  private void run() {
    while (running) {
      try {
        signal.poll(500, TimeUnit.MILLISECONDS);
        if (waiters.isEmpty()) continue;
        Set<UUID> ids = Set.copyOf(waiters.keySet());
        Map<UUID, Task> found = tasks.findAll(ids);
        for (Task t : found.values()) {
          if (!t.state().isTerminal()) continue;
          List<CompletableFuture<Task>> list = waiters.remove(t.id());
          if (list != null) list.forEach(f -> f.complete(t));
        }
      } catch (InterruptedException e) {
        return;
      } catch (RuntimeException e) {
        // database unavailable: waiters time out and re-read; try again on the next tick
      }
    }
  }

  @Override
  public void close() {
    running = false;
    thread.interrupt();
  }
}
