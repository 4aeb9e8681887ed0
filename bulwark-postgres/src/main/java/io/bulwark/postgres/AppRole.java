package io.bulwark.postgres;

import io.bulwark.core.BulwarkException;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import org.postgresql.PGConnection;

/**
 * The role API servers and workers connect as: it owns nothing and may only read and write the rows
 * of Bulwark's tables. It cannot create or alter anything (so not migrate: the schema's owner does),
 * is no superuser (so no {@code COPY ... TO PROGRAM}, no reading server files, no {@code ALTER SYSTEM}),
 * cannot create roles or databases, and cannot replicate. A bug or a handler in an API server or a
 * worker gets a connection that can lose Bulwark's rows, not the server they are in.
 *
 * <p>{@link #ensure} is run by whoever owns the schema (the launcher, as the initdb superuser), after
 * migrating, on every start: the grants then always cover every table the migrations made, and the
 * role's password is new at each start, set with a SCRAM verifier computed here (the password itself
 * never reaches the server, its logs or {@code pg_stat_activity}).
 */
public final class AppRole {
  /** The role's name. */
  public static final String NAME = "bulwark_app";

  private AppRole() {}

  /**
   * Creates the role if missing, takes away anything it should not have, grants what the API and
   * workers need in {@code database}'s {@code public} schema, and sets its password.
   *
   * @param owner a connection to {@code database} as the schema's owner (or a superuser)
   */
  public static void ensure(Connection owner, String database, char[] password) {
    if (!database.matches("[a-z_][a-z0-9_]*")) throw new BulwarkException("database name '" + database + "' is not a plain identifier");
    try (Statement st = owner.createStatement()) {
      st.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '" + NAME + "') THEN CREATE ROLE " + NAME
          + "; END IF; END $$");
      st.execute("ALTER ROLE " + NAME + " LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT");
      // no other role's privileges through membership: the role is exactly what is granted below
      st.execute("DO $$ DECLARE r record; BEGIN FOR r IN SELECT roleid::regrole::text AS g FROM pg_auth_members"
          + " WHERE member = '" + NAME + "'::regrole LOOP EXECUTE format('REVOKE %I FROM " + NAME + "', r.g); END LOOP; END $$");
      // the replication and archiver statistics the API servers export (pg_stat_replication hides its columns otherwise)
      st.execute("GRANT pg_read_all_stats TO " + NAME);
      st.execute("REVOKE ALL ON DATABASE " + database + " FROM PUBLIC");
      st.execute("REVOKE ALL ON DATABASE " + database + " FROM " + NAME);
      st.execute("GRANT CONNECT ON DATABASE " + database + " TO " + NAME);
      st.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC");
      st.execute("REVOKE ALL ON SCHEMA public FROM " + NAME);
      st.execute("GRANT USAGE ON SCHEMA public TO " + NAME);
      st.execute("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM " + NAME);
      st.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO " + NAME);
      // the migrations' history: read (to know the schema is current), never written
      st.execute("REVOKE INSERT, UPDATE, DELETE ON TABLE flyway_schema_history FROM " + NAME);
      st.execute("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM " + NAME);
      st.execute("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO " + NAME);
      owner.unwrap(PGConnection.class).alterUserPassword(NAME, password, "scram-sha-256");
    } catch (SQLException e) {
      throw new BulwarkException("cannot set up the application role " + NAME + ": " + e.getMessage(), e);
    }
  }
}
