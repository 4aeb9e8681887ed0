package io.bulwark.dr;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bounds the archive lag: a committed transaction is only archivable once its WAL segment is
 * finished, so this thread watches the primary's WAL insert position (four times a second) and calls
 * {@code pg_switch_wal()} once WAL written after the last switch is {@code maxDelay} old. An idle
 * primary writes no WAL and is never switched.
 *
 * <p>Why not only PostgreSQL's {@code archive_timeout}: on the bundled PostgreSQL 18.6 it did not
 * switch within 20 s of a commit with {@code archive_timeout = 3s} (measured, cause not found), and
 * it counts whole seconds. It stays set as a backstop. With {@code wal_recycle = off} a switched
 * segment's unused tail is zeros, so a forced switch costs a few KB in the repository, not 16 MiB.
 */
public final class WalSwitcher implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(WalSwitcher.class);
  static final Duration POLL = Duration.ofMillis(250);

  private final PrimaryAccess primary;
  private final Duration maxDelay;
  private final Thread thread;
  private volatile boolean closed;
  private volatile long switches;

  public WalSwitcher(PrimaryAccess primary, Duration maxDelay) {
    this.primary = primary;
    this.maxDelay = maxDelay;
    this.thread = Thread.ofPlatform().name("wal-switcher").daemon().unstarted(this::loop);
  }

  public WalSwitcher start() {
    thread.start();
    return this;
  }

  private void loop() {
    Connection c = null;
    String boundary = null; // insert position right after the last switch (or when first seen)
    long dirtySince = 0;
    String lastError = null;
    while (!closed) {
      try {
        if (c == null || !c.isValid(2)) {
          closeQuietly(c);
          c = primary.connect();
        }
        String lsn = query(c, "SELECT pg_current_wal_insert_lsn()::text");
        if (boundary == null) boundary = lsn;
        if (lsn.equals(boundary)) {
          dirtySince = 0;
        } else if (dirtySince == 0) {
          dirtySince = System.nanoTime();
        } else if (System.nanoTime() - dirtySince >= maxDelay.toNanos()) {
          query(c, "SELECT pg_switch_wal()::text");
          boundary = query(c, "SELECT pg_current_wal_insert_lsn()::text");
          dirtySince = 0;
          switches++;
        }
        lastError = null;
      } catch (SQLException e) {
        // a standby (pg_switch_wal is refused in recovery), or the primary is down or changing: retry
        if (!String.valueOf(e.getMessage()).equals(lastError)) log.debug("WAL switcher: {}", e.getMessage());
        lastError = e.getMessage();
        closeQuietly(c);
        c = null;
        boundary = null;
      }
      try {
        Thread.sleep(POLL);
      } catch (InterruptedException e) {
        break;
      }
    }
    closeQuietly(c);
  }

  private static String query(Connection c, String sql) throws SQLException {
    try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
      rs.next();
      return rs.getString(1);
    }
  }

  private static void closeQuietly(Connection c) {
    if (c == null) return;
    try {
      c.close();
    } catch (SQLException ignored) {
      // already broken
    }
  }

  public long switches() {
    return switches;
  }

  @Override
  public void close() {
    closed = true;
    thread.interrupt();
    try {
      thread.join(Duration.ofSeconds(5));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
