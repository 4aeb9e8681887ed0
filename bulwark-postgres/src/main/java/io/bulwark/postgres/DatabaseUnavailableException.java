package io.bulwark.postgres;

import io.bulwark.core.BulwarkException;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;

/**
 * The database cannot be reached, is shutting down or starting up, or rolled the transaction back as a
 * deadlock or serialization victim: nothing was stored, and retrying later succeeds.
 */
public final class DatabaseUnavailableException extends BulwarkException {
  public DatabaseUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }

  /** Converts connection-class failures to this exception; anything else to a plain BulwarkException. */
  public static RuntimeException translate(String what, SQLException e) {
    if (isUnavailable(e)) {
      return new DatabaseUnavailableException(
          what + " failed: database unavailable (" + e.getMessage() + "); retry shortly", e);
    }
    return new io.bulwark.core.BulwarkException(what + " failed: " + e.getMessage(), e);
  }

  public static boolean isUnavailable(SQLException e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SQLTransientConnectionException) return true;
      if (t instanceof SQLException s && s.getSQLState() != null) {
        String state = s.getSQLState();
        // 08: connection exception; 57P01-03: admin/crash shutdown, cannot connect now; 53300: too many
        // connections; 40001/40P01: serialization failure, deadlock: the transaction was rolled back and
        // a retry succeeds, so callers answer 503 Retry-After rather than 500.
        if (state.startsWith("08") || state.startsWith("57P") || state.equals("53300")
            || state.equals("40001") || state.equals("40P01")) {
          return true;
        }
      }
      if (t instanceof java.io.IOException) return true;
    }
    return false;
  }
}
