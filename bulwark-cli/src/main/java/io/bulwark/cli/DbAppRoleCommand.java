package io.bulwark.cli;

import io.bulwark.core.BulwarkException;
import io.bulwark.node.DataDir;
import io.bulwark.postgres.AppRole;
import io.bulwark.postgres.Database;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * For a database Bulwark does not run itself (a cluster's [database]): migrates the schema as its
 * owner and sets up the {@link AppRole} the API servers and workers should connect as.
 */
@Command(name = "app-role", mixinStandardHelpOptions = true,
    description = {"Migrate the schema as its owner and set up role " + AppRole.NAME + ", which API servers and workers connect as.",
        "",
        "`bulwark up` does this itself at every start. For a cluster's own PostgreSQL, run it once, and again after an",
        "upgrade (it applies the new migrations and grants the role the new tables), then in the cluster file:",
        "  [database]  user = \"" + AppRole.NAME + "\"  password-file = \"FILE\"",
        "The role owns nothing: it reads and writes Bulwark's rows and cannot change the schema, run programs or",
        "make roles. Connect as the schema's owner (--db-user; its password in the environment variable",
        "BULWARK_DB_PASSWORD). The role's password is kept in FILE (mode 0600): made there the first time, reused after."})
final class DbAppRoleCommand implements Callable<Integer> {
  @Mixin DatabaseOptions db;

  @Option(names = "--password-file", required = true, paramLabel = "FILE",
      description = "Where the role's password is kept (mode 0600); created with a new random password if missing")
  Path passwordFile;

  @Option(names = "--rotate", description = "Give the role a new password (in FILE); processes connected with the old one keep their connections, new ones need the new password")
  boolean rotate;

  @Override
  public Integer call() {
    String password = password();
    String database = databaseName(db.jdbcUrl);
    try (Database owner = Database.open(db.config("app-role").withPoolSize(2))) { // Flyway holds two: its lock and its work
      owner.migrateWhenReachable(Duration.ofSeconds(30));
      try (Connection c = owner.connection()) {
        AppRole.ensure(c, database, password.toCharArray());
      } catch (SQLException e) {
        throw new BulwarkException("cannot reach the database at " + db.jdbcUrl + ": " + e.getMessage(), e);
      }
    }
    System.out.println("role " + AppRole.NAME + " is ready on database " + database + "; its password is in " + passwordFile.toAbsolutePath()
        + " (mode 0600)");
    return 0;
  }

  private String password() {
    if (Files.exists(passwordFile) && !rotate) {
      String p = DataDir.readSecret(passwordFile);
      if (p.isBlank()) throw new BulwarkException("the password file " + passwordFile + " is empty; delete it or use --rotate");
      return p;
    }
    try {
      Path parent = passwordFile.toAbsolutePath().getParent();
      if (parent != null) Files.createDirectories(parent);
    } catch (IOException e) {
      throw new BulwarkException("cannot create the folder of " + passwordFile + ": " + e.getMessage(), e);
    }
    String p = DataDir.newPassword();
    DataDir.writeSecret(passwordFile, p);
    return p;
  }

  /** The database a JDBC URL names: jdbc:postgresql://host:port/NAME?params. */
  static String databaseName(String jdbcUrl) {
    String rest = jdbcUrl.replaceFirst("^jdbc:postgresql://[^/]*/?", "");
    String name = rest.replaceFirst("[?].*$", "");
    if (name.isEmpty() || name.equals(jdbcUrl)) {
      throw new BulwarkException("--jdbc-url " + jdbcUrl + " names no database; write jdbc:postgresql://HOST:PORT/DATABASE");
    }
    return name;
  }
}
