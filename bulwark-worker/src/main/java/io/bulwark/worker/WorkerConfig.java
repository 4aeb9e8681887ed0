package io.bulwark.worker;

import io.bulwark.core.BulwarkException;
import io.bulwark.core.task.RetryPolicy;
import java.time.Duration;

/**
 * A worker's settings, validated on construction (impossible values are refused with their unit).
 *
 * @param name instance name, in logs and in the tasks' {@code worker} column
 * @param concurrency most tasks running at once in this process
 * @param claimBatch most tasks claimed by one query
 * @param lease how long a claim lasts without a heartbeat; a killed worker's tasks are rescued after it
 * @param heartbeat how often leases are extended (must be well under the lease)
 * @param poll how often to look for ready tasks when no notification arrives
 * @param rescueInterval how often to look for expired leases
 * @param shutdownGrace how long a graceful stop waits for running tasks before handing them back
 * @param retry when a failed attempt runs again
 * @param inputBudgetBytes input bytes the running tasks may hold at once (see {@link #DEFAULT_INPUT_BUDGET_BYTES})
 */
public record WorkerConfig(
    String name,
    int concurrency,
    int claimBatch,
    Duration lease,
    Duration heartbeat,
    Duration poll,
    Duration rescueInterval,
    Duration shutdownGrace,
    RetryPolicy retry,
    long inputBudgetBytes) {

  public static final int DEFAULT_CONCURRENCY = 256;
  public static final int DEFAULT_CLAIM_BATCH = 256;
  public static final Duration DEFAULT_LEASE = Duration.ofSeconds(10);
  public static final Duration DEFAULT_HEARTBEAT = Duration.ofMillis(2500);
  public static final Duration DEFAULT_POLL = Duration.ofSeconds(1);
  public static final Duration DEFAULT_RESCUE_INTERVAL = Duration.ofSeconds(2);
  public static final Duration DEFAULT_SHUTDOWN_GRACE = Duration.ofSeconds(10);
  /**
   * Input bytes the tasks running at once may hold: a quarter of the heap, 16 MiB at least. A claimed
   * task whose input does not fit is handed back at once (queued again, its attempt not counted); one
   * input larger than the whole budget runs alone.
   */
  public static final long DEFAULT_INPUT_BUDGET_BYTES = Math.max(16L << 20, Runtime.getRuntime().maxMemory() / 4);

  public WorkerConfig {
    if (name == null || name.isBlank()) throw new BulwarkException("worker name cannot be empty");
    if (concurrency < 1 || concurrency > 10_000) {
      throw new BulwarkException("worker concurrency must be 1-10000 tasks, got " + concurrency);
    }
    if (claimBatch < 1) throw new BulwarkException("claim batch must be at least 1 task, got " + claimBatch);
    claimBatch = Math.min(claimBatch, concurrency);
    if (lease.toMillis() < 1000) {
      throw new BulwarkException("lease cannot be less than 1000 ms, got " + lease.toMillis() + " ms");
    }
    if (heartbeat.toMillis() * 2 > lease.toMillis()) {
      throw new BulwarkException("heartbeat interval (" + heartbeat.toMillis() + " ms) must be at most half the lease ("
          + lease.toMillis() + " ms), or a live worker loses its tasks");
    }
    if (poll.toMillis() < 10) throw new BulwarkException("poll interval cannot be less than 10 ms, got " + poll.toMillis() + " ms");
    if (inputBudgetBytes < 1 << 20) {
      throw new BulwarkException("input budget cannot be less than 1 MiB, got " + inputBudgetBytes + " bytes");
    }
    if (rescueInterval.toMillis() < 100) {
      throw new BulwarkException("rescue interval cannot be less than 100 ms, got " + rescueInterval.toMillis() + " ms");
    }
  }

  public static WorkerConfig defaults(String name) {
    return new WorkerConfig(name, DEFAULT_CONCURRENCY, DEFAULT_CLAIM_BATCH, DEFAULT_LEASE, DEFAULT_HEARTBEAT,
        DEFAULT_POLL, DEFAULT_RESCUE_INTERVAL, DEFAULT_SHUTDOWN_GRACE, RetryPolicy.ExponentialBackoff.defaults(),
        DEFAULT_INPUT_BUDGET_BYTES);
  }

  public WorkerConfig withConcurrency(int c, int batch) {
    return new WorkerConfig(name, c, batch, lease, heartbeat, poll, rescueInterval, shutdownGrace, retry, inputBudgetBytes);
  }

  public WorkerConfig withLease(Duration newLease, Duration newHeartbeat) {
    return new WorkerConfig(name, concurrency, claimBatch, newLease, newHeartbeat, poll, rescueInterval, shutdownGrace, retry, inputBudgetBytes);
  }

  public WorkerConfig withRetry(RetryPolicy r) {
    return new WorkerConfig(name, concurrency, claimBatch, lease, heartbeat, poll, rescueInterval, shutdownGrace, r, inputBudgetBytes);
  }

  public WorkerConfig withInputBudget(long bytes) {
    return new WorkerConfig(name, concurrency, claimBatch, lease, heartbeat, poll, rescueInterval, shutdownGrace, retry, bytes);
  }

  public WorkerConfig withShutdownGrace(Duration g) {
    return new WorkerConfig(name, concurrency, claimBatch, lease, heartbeat, poll, rescueInterval, g, retry, inputBudgetBytes);
  }
}
