package io.bulwark.postgres;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;

/**
 * Binds Java arrays as typed PostgreSQL arrays to consecutive statement parameters: the batched
 * statements here pass one array per column and {@code unnest} them, so one statement writes a
 * whole batch of rows.
 */
final class SqlArrays {
  /** One array parameter: its PostgreSQL element type and its values. */
  record Column(String type, Object[] values) {}

  private SqlArrays() {}

  static Column uuid(Object[] values) {
    return new Column("uuid", values);
  }

  static Column text(Object[] values) {
    return new Column("text", values);
  }

  static Column int4(Object[] values) {
    return new Column("int4", values);
  }

  static Column int8(Object[] values) {
    return new Column("int8", values);
  }

  static Column bool(Object[] values) {
    return new Column("bool", values);
  }

  static Column bytea(Object[] values) {
    return new Column("bytea", values);
  }

  static Column timestamptz(Object[] values) {
    return new Column("timestamptz", values);
  }

  /** Binds the columns to parameters {@code first}, {@code first + 1}, … in order. */
  static void bind(Connection c, PreparedStatement ps, int first, Column... columns) throws SQLException {
    for (int i = 0; i < columns.length; i++) {
      ps.setArray(first + i, c.createArrayOf(columns[i].type(), columns[i].values()));
    }
  }
}
