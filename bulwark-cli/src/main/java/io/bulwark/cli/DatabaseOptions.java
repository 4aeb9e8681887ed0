package io.bulwark.cli;

import io.bulwark.core.ProcessSecrets;
import io.bulwark.postgres.Database;
import java.time.Duration;
import picocli.CommandLine.Option;

/**
 * How a role connects to PostgreSQL. The password comes from its supervisor on standard input (or, for
 * a role started by hand, the environment variable BULWARK_DB_PASSWORD), never the command line.
 */
final class DatabaseOptions {
  @Option(names = "--jdbc-url", required = true, paramLabel = "URL",
      description = "PostgreSQL JDBC URL, e.g. jdbc:postgresql://db:5432/bulwark (env BULWARK_JDBC_URL)")
  String jdbcUrl;

  @Option(names = "--db-user", defaultValue = "bulwark", paramLabel = "USER",
      description = "Database user (default: ${DEFAULT-VALUE}; env BULWARK_DB_USER)")
  String user;

  @Option(names = "--db-pool-size", defaultValue = "10", paramLabel = "N",
      description = "Connection pool size (default: ${DEFAULT-VALUE})")
  int poolSize;

  Database.Config config(String name) {
    String password = ProcessSecrets.get(ProcessSecrets.DB_PASSWORD);
    return new Database.Config(jdbcUrl, user, password, poolSize, Database.Config.DEFAULT_CONNECT_TIMEOUT, name);
  }

  static Duration ms(long ms) {
    return Duration.ofMillis(ms);
  }
}
