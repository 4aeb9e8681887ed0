package io.bulwark.dr;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;

/**
 * How backups reach the current primary. The primary can change at failover, so callers ask each
 * time instead of keeping a connection or a path.
 */
public interface PrimaryAccess {
  /** A new connection to the primary's application database ({@code bulwark}) as the superuser. */
  Connection connect() throws SQLException;

  /** The primary's data directory, readable by this process. */
  Path dataDir();
}
