package io.bulwark.testkit;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;

/**
 * A fresh database on the shared test PostgreSQL, one per test class; resolved as a parameter by
 * {@link PostgresExtension}.
 *
 * @param jdbcUrl {@code jdbc:postgresql://127.0.0.1:<port>/test_<n>}
 * @param user the server's superuser
 * @param password its password
 */
public record TestDatabase(String jdbcUrl, String user, String password) {

  /** The database name: the last path segment of {@link #jdbcUrl()}. */
  public String name() {
    return jdbcUrl.substring(jdbcUrl.lastIndexOf('/') + 1);
  }

  /** A new connection (the caller closes it); needs the PostgreSQL JDBC driver on the class path. */
  public Connection connect() throws SQLException {
    return DriverManager.getConnection(jdbcUrl, user, password);
  }

  @Override
  public String toString() {
    return "TestDatabase[" + jdbcUrl + ", user=" + user + "]";
  }
}
