package io.bulwark.cli;

import io.bulwark.core.blob.BlobStore;
import io.bulwark.core.handler.HandlerRegistry;
import io.bulwark.core.metrics.Metrics;
import io.bulwark.core.task.RetryPolicy;
import io.bulwark.node.Roles;
import io.bulwark.postgres.Database;
import io.bulwark.worker.Worker;
import io.bulwark.worker.WorkerConfig;
import io.bulwark.worker.WorkerHealthServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "worker", mixinStandardHelpOptions = true,
    description = {"Run one worker: claim tasks from PostgreSQL and run their handlers.",
        "",
        "The database password is read from the environment variable BULWARK_DB_PASSWORD.",
        "Every option can also be set as BULWARK_<OPTION> or in the file named by BULWARK_CONFIG."})
final class WorkerCommand implements Callable<Integer> {
  @Mixin DatabaseOptions db;

  @Option(names = "--name", defaultValue = "worker", description = "Instance name (default: ${DEFAULT-VALUE})")
  String name;

  @Option(names = "--concurrency", defaultValue = "" + WorkerConfig.DEFAULT_CONCURRENCY,
      description = "Most tasks running at once (default: ${DEFAULT-VALUE})")
  int concurrency;

  @Option(names = "--claim-batch", defaultValue = "" + WorkerConfig.DEFAULT_CLAIM_BATCH,
      description = "Most tasks claimed per query (default: ${DEFAULT-VALUE})")
  int claimBatch;

  @Option(names = "--lease-ms", defaultValue = "10000",
      description = "Lease length; a dead worker's tasks are rescued after it (default: ${DEFAULT-VALUE})")
  long leaseMs;

  @Option(names = "--heartbeat-ms", defaultValue = "2500", description = "Lease heartbeat interval (default: ${DEFAULT-VALUE})")
  long heartbeatMs;

  @Option(names = "--retry-base-ms", defaultValue = "1000",
      description = "First retry delay; doubles per attempt, with jitter (default: ${DEFAULT-VALUE})")
  long retryBaseMs;

  @Option(names = "--retry-cap-ms", defaultValue = "600000", description = "Longest retry delay (default: ${DEFAULT-VALUE})")
  long retryCapMs;

  @Option(names = "--shutdown-grace-ms", defaultValue = "10000",
      description = "On SIGTERM, how long running tasks may finish before they are handed back (default: ${DEFAULT-VALUE})")
  long graceMs;

  @Option(names = "--input-budget-mb", paramLabel = "MiB",
      description = {"Input bytes the running tasks may hold at once; a claimed task whose input does not fit is handed back",
          "(queued again, no attempt counted) and one larger input runs alone (default: a quarter of the heap, at least 16)"})
  Long inputBudgetMb;

  @Option(names = "--health-port", defaultValue = "0", description = "Port of /health and /metrics on 127.0.0.1 (default: any free port)")
  int healthPort;

  @picocli.CommandLine.Mixin StorageOptions storage;

  @Option(names = "--handlers-dir", paramLabel = "DIR", description = "Extra handler jars")
  Path handlersDir;

  @Override
  public Integer call() throws Exception {
    WorkerConfig config = WorkerConfig.defaults(name)
        .withConcurrency(concurrency, claimBatch)
        .withLease(Duration.ofMillis(leaseMs), Duration.ofMillis(heartbeatMs))
        .withRetry(new RetryPolicy.ExponentialBackoff(Duration.ofMillis(retryBaseMs), Duration.ofMillis(retryCapMs)))
        .withShutdownGrace(Duration.ofMillis(graceMs));
    if (inputBudgetMb != null) config = config.withInputBudget(inputBudgetMb << 20);
    Metrics metrics = new Metrics().withJvmGauges();
    BlobStore blobs = storage.open(name, metrics); // a wrong storage set-up stops the process before anything starts
    Database database = Database.open(db.config(name));
    database.migrateWhenReachable(Duration.ofMinutes(2));
    Worker worker = new Worker(config, database, blobs, HandlerRegistry.load(handlersDir), metrics);
    WorkerHealthServer health = new WorkerHealthServer("127.0.0.1", healthPort, worker, database, metrics);
    health.start();
    worker.start();
    return Roles.runUntilSignalled(name, () -> {
      worker.close();
      health.close();
      database.close();
    });
  }
}
