package io.bulwark.embedded;

import io.bulwark.core.BulwarkException;
import java.nio.file.Path;

/** Installing, initializing, configuring, starting or stopping the embedded PostgreSQL failed. */
public class EmbeddedPostgresException extends BulwarkException {
  public EmbeddedPostgresException(String message) {
    super(message);
  }

  public EmbeddedPostgresException(String message, Throwable cause) {
    super(message, cause);
  }

  /** A live postmaster already owns the data directory. */
  public static final class AlreadyRunning extends EmbeddedPostgresException {
    private final long pid;

    public AlreadyRunning(Path dataDir, long pid) {
      super(
          "PostgreSQL already running on " + dataDir + " (pid " + pid + "); stop that server"
              + " first (kill -INT " + pid + " for a fast shutdown) or use another data directory");
      this.pid = pid;
    }

    /** The pid recorded in the data directory's postmaster.pid. */
    public long pid() {
      return pid;
    }
  }
}
