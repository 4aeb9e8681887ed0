package io.bulwark.postgres;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * LISTENs on one channel over a dedicated connection and calls {@code onNotify} for every batch of
 * notifications. It reconnects by itself after the database goes away, and calls {@code onNotify}
 * after reconnecting too, since notifications sent meanwhile are lost. Notifications are only a
 * latency optimisation: every consumer also polls.
 */
public final class PgListener implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(PgListener.class);

  private final Database.Config config;
  private final String channel;
  private final Runnable onNotify;
  private final Thread thread;
  private volatile boolean running = true;
  private volatile Connection connection;

  public PgListener(Database.Config config, String channel, Runnable onNotify) {
    this.config = config;
    this.channel = channel;
    this.onNotify = onNotify;
    this.thread = Thread.ofPlatform().daemon().name(config.name() + "-listen-" + channel).start(this::run);
  }

  private void run() {
    long backoffMs = 100;
    while (running) {
      try (Connection c = connect()) {
        connection = c;
        try (Statement st = c.createStatement()) {
          st.execute("LISTEN " + channel);
        }
        backoffMs = 100;
        onNotify.run();
        PGConnection pg = c.unwrap(PGConnection.class);
        while (running) {
          PGNotification[] batch = pg.getNotifications(1000);
          if (batch != null && batch.length > 0) onNotify.run();
          else if (!c.isValid(1)) throw new SQLException("listener connection lost", "08006");
        }
      } catch (SQLException | RuntimeException e) {
        if (!running) return;
        log.warn("[{}] LISTEN {} interrupted ({}); reconnecting in {} ms", config.name(), channel, e.getMessage(),
            backoffMs);
        try {
          Thread.sleep(backoffMs); // reconnect backoff
        } catch (InterruptedException ie) {
          return;
        }
        backoffMs = Math.min(backoffMs * 2, 2000);
      }
    }
  }

  private Connection connect() throws SQLException {
    Properties p = new Properties();
    p.setProperty("user", config.user());
    if (config.password() != null) p.setProperty("password", config.password());
    p.setProperty("ApplicationName", config.name() + "-listener");
    p.setProperty("connectTimeout", String.valueOf(Math.max(1, config.connectTimeout().toSeconds())));
    p.setProperty("tcpKeepAlive", "true");
    p.setProperty("loginTimeout", String.valueOf(Database.LOGIN_TIMEOUT_SECONDS));
    return DriverManager.getConnection(config.jdbcUrl(), p);
  }

  @Override
  public void close() {
    running = false;
    thread.interrupt();
    Connection c = connection;
    if (c != null) {
      try {
        c.close();
      } catch (SQLException ignored) {
        // closing anyway
      }
    }
  }
}
