package io.bulwark.postgres;

import io.bulwark.core.blob.BlobRef;
import io.bulwark.core.task.Task;
import io.bulwark.core.task.TaskState;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.UUID;

/** Mapping between the tasks table and {@link Task}. */
final class TaskRows {
  static final String COLUMNS =
      "id, tenant, type, state, attempts, max_attempts, priority, timeout_seconds, run_at, created_at,"
          + " started_at, finished_at, result_json, result_blob, result_size, result_sha256,"
          + " result_content_type, error";

  private TaskRows() {}

  static Task map(ResultSet rs) throws SQLException {
    String resultBlob = rs.getString("result_blob");
    return new Task(
        rs.getObject("id", UUID.class),
        rs.getString("tenant"),
        rs.getString("type"),
        TaskState.fromWire(rs.getString("state")),
        rs.getInt("attempts"),
        rs.getInt("max_attempts"),
        rs.getInt("priority"),
        rs.getInt("timeout_seconds"),
        instant(rs.getTimestamp("run_at")),
        instant(rs.getTimestamp("created_at")),
        instant(rs.getTimestamp("started_at")),
        instant(rs.getTimestamp("finished_at")),
        rs.getString("result_json"),
        resultBlob == null
            ? null
            : new BlobRef(resultBlob, rs.getLong("result_size"), rs.getString("result_sha256")),
        rs.getString("result_content_type"),
        rs.getString("error"));
  }

  static Instant instant(Timestamp ts) {
    return ts == null ? null : ts.toInstant();
  }

  static Timestamp timestamp(Instant i) {
    return i == null ? null : Timestamp.from(i);
  }

  /**
   * An element of a {@code timestamptz[]} parameter: ISO-8601 text in UTC. Not a {@link Timestamp}: the
   * driver sends array elements as their {@code toString()}, a local time without offset, which is
   * ambiguous (and read an hour off) in the hour that repeats when daylight saving time ends.
   */
  static String timestamptzElement(Instant i) {
    return i == null ? null : i.toString();
  }
}
