package io.bulwark.cli;

import io.bulwark.api.ApiConfig;
import io.bulwark.api.ApiServer;
import io.bulwark.core.blob.BlobStore;
import io.bulwark.core.handler.HandlerRegistry;
import io.bulwark.core.metrics.Metrics;
import io.bulwark.node.Roles;
import io.bulwark.postgres.Database;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "api", mixinStandardHelpOptions = true,
    description = {"Run one HTTP API server.",
        "",
        "This is what `bulwark up` starts, and how a multi-machine deployment runs one.",
        "The database password is read from the environment variable BULWARK_DB_PASSWORD.",
        "Every option can also be set as BULWARK_<OPTION> (e.g. BULWARK_PORT) or in the file named by BULWARK_CONFIG."})
final class ApiCommand implements Callable<Integer> {
  @Mixin DatabaseOptions db;

  @Option(names = "--name", defaultValue = "api", description = "Instance name for logs and metrics (default: ${DEFAULT-VALUE})")
  String name;

  @Option(names = "--host", defaultValue = "127.0.0.1", description = "Interface to listen on (default: ${DEFAULT-VALUE})")
  String host;

  @Option(names = "--port", defaultValue = "8080", description = "Port to listen on (default: ${DEFAULT-VALUE})")
  int port;

  @picocli.CommandLine.Mixin StorageOptions storage;

  @Option(names = "--handlers-dir", paramLabel = "DIR", description = "Extra handler jars (to know their task types)")
  Path handlersDir;

  @Option(names = "--max-body-bytes", defaultValue = "16777216", description = "Largest request body (default: ${DEFAULT-VALUE} = 16 MiB)")
  long maxBodyBytes;

  @Option(names = "--tenant-max-requests", defaultValue = "" + io.bulwark.api.TenantLimits.DEFAULT_IN_FLIGHT, paramLabel = "N",
      description = "Requests one tenant may have in progress on this server at once; one more gets 429 (default: ${DEFAULT-VALUE})")
  int tenantMaxRequests;

  @Option(names = "--tenant-max-long-polls", defaultValue = "" + io.bulwark.api.TenantLimits.DEFAULT_LONG_POLLS, paramLabel = "N",
      description = "Long polls (GET /v1/tasks/ID?wait=) one tenant may have waiting on this server at once (default: ${DEFAULT-VALUE})")
  int tenantMaxLongPolls;

  @Option(names = "--tenant-rate", defaultValue = "0", paramLabel = "PER_SECOND",
      description = "Requests per second one tenant may make on this server, bursts of one second's worth; 0: no limit (default: ${DEFAULT-VALUE})")
  int tenantRate;

  @Override
  public Integer call() throws Exception {
    ApiConfig config = ApiConfig.defaults(name, port).withHost(host).withMaxBodyBytes(maxBodyBytes)
        .withTenantLimits(new io.bulwark.api.TenantLimits(tenantMaxRequests, tenantMaxLongPolls, tenantRate));
    Metrics metrics = new Metrics().withJvmGauges();
    BlobStore blobs = storage.open(name, metrics); // a wrong storage set-up stops the process before anything starts
    Database database = Database.open(db.config(name).withPoolSize(Math.max(db.poolSize, 4)));
    database.migrateWhenReachable(Duration.ofMinutes(2));
    ApiServer server = new ApiServer(config, database, blobs, HandlerRegistry.load(handlersDir), metrics);
    server.start();
    return Roles.runUntilSignalled(name, () -> {
      server.close();
      database.close();
    });
  }
}
