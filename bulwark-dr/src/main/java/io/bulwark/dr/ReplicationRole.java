package io.bulwark.dr;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import org.postgresql.PGConnection;

/**
 * The role a standby streams from its primary as: it may log in and replicate, nothing else (no
 * superuser, it reads no table, it makes no role). A standby's {@code primary_conninfo} names it, and
 * its password is in the libpq password file the standby reads (0600). The failover controller
 * creates it on the primary before any standby needs it; being a role, it reaches every standby with
 * the WAL, so the promoted standby of a failover has it too.
 *
 * @param name the role, e.g. {@value #DEFAULT_NAME}
 * @param password its password, set as a SCRAM verifier computed here (never sent in clear)
 */
public record ReplicationRole(String name, String password) {
  public static final String DEFAULT_NAME = "bulwark_replication";

  public ReplicationRole {
    if (!name.matches("[a-z_][a-z0-9_]*")) throw new DrException("replication role name '" + name + "' is not a plain identifier");
    if (password == null || password.isEmpty()) throw new DrException("the replication role needs a password");
  }

  /** Creates the role if missing, takes away anything but LOGIN and REPLICATION, and sets its password. */
  void ensure(Connection superuser) throws SQLException {
    try (Statement st = superuser.createStatement()) {
      st.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '" + name + "') THEN CREATE ROLE " + name
          + "; END IF; END $$");
      st.execute("ALTER ROLE " + name + " LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS");
    }
    superuser.unwrap(PGConnection.class).alterUserPassword(name, password.toCharArray(), "scram-sha-256");
  }
}
