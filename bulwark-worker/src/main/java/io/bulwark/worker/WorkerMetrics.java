package io.bulwark.worker;

import io.bulwark.core.metrics.Metrics;

/** The worker's metrics, registered once. */
final class WorkerMetrics {
  final Metrics registry;
  final Metrics.Counter claimed;
  final Metrics.Counter succeeded;
  final Metrics.Counter retried;
  final Metrics.Counter dead;
  final Metrics.Counter released;
  final Metrics.Counter handedBack;
  final Metrics.Counter ignoredCompletions;
  final Metrics.Counter timeouts;
  final Metrics.Counter leasesLost;
  final Metrics.Counter rescued;
  final Metrics.Counter rescuedDead;
  final Metrics.Counter dbErrors;
  final Metrics.Counter expiredTasks;
  final Metrics.Counter expiredBytes;
  final Metrics.Histogram handlerSeconds;
  final Metrics.Histogram claimSeconds;
  final Metrics.Histogram completeSeconds;

  WorkerMetrics(Metrics m) {
    registry = m;
    claimed = m.counter("worker_tasks_claimed_total", "Tasks claimed by this worker");
    succeeded = m.counter("worker_task_outcomes_total", "Attempt outcomes written", "outcome", "succeeded");
    retried = m.counter("worker_task_outcomes_total", "Attempt outcomes written", "outcome", "retried");
    dead = m.counter("worker_task_outcomes_total", "Attempt outcomes written", "outcome", "dead");
    released = m.counter("worker_task_outcomes_total", "Attempt outcomes written", "outcome", "released");
    handedBack = m.counter("worker_tasks_handed_back_total", "Claimed tasks handed back at once: their input did not fit the input budget");
    ignoredCompletions = m.counter("worker_completions_ignored_total", "Completions ignored because the lease was lost");
    timeouts = m.counter("worker_task_timeouts_total", "Attempts stopped at their timeout");
    leasesLost = m.counter("worker_leases_lost_total", "Running tasks whose lease was lost (cancelled or rescued)");
    rescued = m.counter("lease_rescues_total", "Expired leases rescued back to the queue", "result", "requeued");
    rescuedDead = m.counter("lease_rescues_total", "Expired leases rescued back to the queue", "result", "dead");
    expiredTasks = m.counter("retention_deleted_tasks_total", "Finished tasks deleted past their tenant's retention, with their blobs");
    expiredBytes = m.counter("retention_deleted_bytes_total", "Stored bytes (inputs and results) freed by the retention sweep");
    dbErrors = m.counter("worker_database_errors_total", "Database operations that failed and were retried");
    handlerSeconds = m.histogram("worker_handler_seconds", "Handler run time", Metrics.latencyBuckets());
    claimSeconds = m.histogram("worker_claim_seconds", "Claim query time", Metrics.latencyBuckets());
    completeSeconds = m.histogram("worker_complete_seconds", "Completion batch write time", Metrics.latencyBuckets());
  }
}
