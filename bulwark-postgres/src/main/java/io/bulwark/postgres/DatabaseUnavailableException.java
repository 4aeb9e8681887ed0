package io.bulwark.postgres;

import io.bulwark.core.BulwarkException;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;

/** The database cannot be reached, or is shutting down or starting up: worth retrying later. */
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
        // 08: connection exception; 57P01-03: admin/crash shutdown, cannot connect now; 53300: too many connections
        if (state.startsWith("08") || state.startsWith("57P") || state.equals("53300")) return true;
      }
      if (t instanceof java.io.IOException) return true;
    }
    return false;
  }
}
