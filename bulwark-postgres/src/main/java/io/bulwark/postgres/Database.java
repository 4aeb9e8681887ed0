package io.bulwark.postgres;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.bulwark.core.BulwarkException;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Objects;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A connection pool to Bulwark's database plus its schema migrations. The pool starts even while the
 * database is down (requests then fail fast with {@link DatabaseUnavailableException}, and the pool
 * reconnects by itself), so a process never has to be restarted because the database was.
 */
public final class Database implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Database.class);

  /** Connection settings. The password is never logged. */
  public record Config(String jdbcUrl, String user, String password, int poolSize, Duration connectTimeout, String name) {
    public static final int DEFAULT_POOL_SIZE = 10;
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(3);

    public Config {
      Objects.requireNonNull(jdbcUrl, "jdbcUrl");
      if (!jdbcUrl.startsWith("jdbc:postgresql:")) {
        throw new BulwarkException(
            "database URL must start with jdbc:postgresql:, got '" + jdbcUrl + "' (example:"
                + " jdbc:postgresql://db.example:5432/bulwark)");
      }
      if (poolSize < 1 || poolSize > 200) {
        throw new BulwarkException("database pool size must be between 1 and 200 connections, got " + poolSize);
      }
      if (connectTimeout.toMillis() < 250) {
        throw new BulwarkException(
            "database connect timeout cannot be less than 250 ms, got " + connectTimeout.toMillis() + " ms");
      }
    }

    public Config withPoolSize(int size) {
      return new Config(jdbcUrl, user, password, size, connectTimeout, name);
    }

    public Config withName(String newName) {
      return new Config(jdbcUrl, user, password, poolSize, connectTimeout, newName);
    }

    @Override
    public String toString() {
      return "Config[url=" + jdbcUrl + ", user=" + user + ", password=***, poolSize=" + poolSize
          + ", connectTimeout=" + connectTimeout.toMillis() + "ms, name=" + name + "]";
    }
  }

  private final Config config;
  private volatile HikariDataSource pool;
  private final java.util.concurrent.locks.ReentrantLock renewing = new java.util.concurrent.locks.ReentrantLock();
  private volatile boolean closed;

  private Database(Config config, HikariDataSource pool) {
    this.config = config;
    this.pool = pool;
  }

  public static Database open(Config config) {
    log.info("[{}] database pool: {}", config.name(), config);
    return new Database(config, pool(config));
  }

  /** How long establishing one connection may take in all (pgjdbc's loginTimeout): every host tried, TLS, authentication. */
  static final int LOGIN_TIMEOUT_SECONDS = 10;

  private static HikariDataSource pool(Config config) {
    HikariConfig hc = new HikariConfig();
    hc.setPoolName(config.name() + "-db");
    hc.setJdbcUrl(config.jdbcUrl());
    hc.setUsername(config.user());
    hc.setPassword(config.password());
    hc.setMaximumPoolSize(config.poolSize());
    hc.setMinimumIdle(Math.min(2, config.poolSize()));
    hc.setConnectionTimeout(config.connectTimeout().toMillis());
    hc.setValidationTimeout(Math.min(1000, config.connectTimeout().toMillis()));
    hc.setKeepaliveTime(Duration.ofSeconds(30).toMillis());
    hc.setInitializationFailTimeout(-1); // start even if the database is down; connect later
    hc.addDataSourceProperty("ApplicationName", config.name());
    hc.addDataSourceProperty("tcpKeepAlive", "true");
    hc.addDataSourceProperty("connectTimeout", String.valueOf(Math.max(1, config.connectTimeout().toSeconds())));
    hc.addDataSourceProperty("socketTimeout", "60");
    // a connection attempt (every host of the URL, TLS and authentication included) gives up after this:
    // Hikari adds connections one at a time, so one attempt stalled on a server that accepted the TCP
    // connection and never answered would otherwise hold up every new connection for the socket timeout
    hc.addDataSourceProperty("loginTimeout", String.valueOf(LOGIN_TIMEOUT_SECONDS));
    return new HikariDataSource(hc);
  }

  public Config config() {
    return config;
  }

  public DataSource dataSource() {
    return pool;
  }

  public Connection connection() throws SQLException {
    return pool.getConnection();
  }

  /**
   * Applies pending schema migrations; safe to run from many processes at once (Flyway locks). A role
   * that may not create in the schema (the {@link AppRole}) migrates nothing: it checks that the
   * schema's owner has applied every migration this build knows, and fails saying so if not.
   */
  public void migrate() {
    Flyway flyway = Flyway.configure(getClass().getClassLoader())
        .dataSource(pool)
        .locations("classpath:db/migration")
        .load();
    if (!mayCreateInSchema()) {
      var pending = flyway.info().pending();
      if (pending.length > 0) {
        throw new BulwarkException("the database schema lacks " + pending.length + " migration(s) this build needs (up to version "
            + pending[pending.length - 1].getVersion() + "), and role " + config.user() + " may not apply them: start the process"
            + " that migrates as the schema's owner first (bulwark up and the agent's database node do)");
      }
      return;
    }
    var result = flyway.migrate();
    if (result.migrationsExecuted > 0) {
      log.info("[{}] applied {} schema migration(s); schema now at version {}", config.name(),
          result.migrationsExecuted, result.targetSchemaVersion);
    }
  }

  private boolean mayCreateInSchema() {
    try (Connection c = pool.getConnection(); var st = c.createStatement();
        var rs = st.executeQuery("SELECT has_schema_privilege('public', 'CREATE')")) {
      return rs.next() && rs.getBoolean(1);
    } catch (SQLException e) {
      throw new DatabaseUnavailableException("cannot ask the database what role " + config.user() + " may do: " + e.getMessage(), e);
    }
  }

  /** Migrates (or, for a role that may not, waits for the schema to be current), retrying while the database is unreachable, until the deadline. */
  public void migrateWhenReachable(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      try {
        migrate();
        return;
      } catch (RuntimeException e) {
        if (System.nanoTime() > deadline) {
          throw new BulwarkException("could not migrate the database at " + config.jdbcUrl() + " within "
              + timeout.toSeconds() + " s: " + e.getMessage() + "; is PostgreSQL running and the password right?", e);
        }
        log.warn("[{}] database not ready for migration yet ({}); retrying", config.name(), e.getMessage());
        try {
          Thread.sleep(500); // retry backoff, not a wait for a condition
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw new BulwarkException("interrupted while waiting for the database", ie);
        }
      }
    }
  }

  /**
   * True when a connection can be taken and answers a trivial query within the pool's timeouts. It runs
   * a real statement rather than {@code Connection.isValid}: a pooled connection that died with the
   * database answers isValid with false and goes back to the pool, and one used in the last 500 ms
   * skips the pool's own validation, so a probe polling that often kept drawing the same dead
   * connection after the database was back. When the statement fails for a connection reason, every
   * pooled connection is suspect (the database went away under all of them): they are all evicted, so
   * recovery does not wait for each dead one to be drawn and fail in turn (measured: 4.1 s).
   */
  public boolean isReachable() {
    try (Connection c = pool.getConnection(); java.sql.Statement st = c.createStatement()) {
      st.setQueryTimeout(2);
      st.execute("SELECT 1");
      return true;
    } catch (SQLException e) {
      if (DatabaseUnavailableException.isUnavailable(e)) {
        var mx = pool.getHikariPoolMXBean();
        if (mx != null) mx.softEvictConnections();
        return renewIfStuck();
      }
      return false;
    }
  }

  /**
   * The pool could not give a connection; if the database answers a connection of our own, the pool
   * is only stuck in its reconnect backoff (HikariCP doubles the wait between failed attempts up to
   * 5 s, so after an outage of a few seconds it may not try again for seconds after the database,
   * or a newly promoted primary, is back). Then a fresh pool replaces it and the old one is closed:
   * its connections died with the outage anyway. Measured in the cluster failover drill: the API was
   * ready again 5.3 s after the new primary was; with this, within a readiness check.
   */
  private boolean renewIfStuck() {
    if (closed || !renewing.tryLock()) return false;
    try {
      java.util.Properties props = new java.util.Properties();
      props.setProperty("user", config.user());
      props.setProperty("password", config.password());
      props.setProperty("connectTimeout", String.valueOf(Math.max(1, config.connectTimeout().toSeconds())));
      props.setProperty("ApplicationName", config.name());
      try (Connection probe = java.sql.DriverManager.getConnection(config.jdbcUrl(), props);
          java.sql.Statement st = probe.createStatement()) {
        st.setQueryTimeout(2);
        st.execute("SELECT 1");
      } catch (SQLException unreachable) {
        return false; // the database is really away: the pool is right to wait
      }
      HikariDataSource old = pool;
      pool = pool(config);
      log.info("[{}] the database answers again but the pool was still backing off: replaced the pool", config.name());
      Thread.ofVirtual().name(config.name() + "-old-pool-close").start(old::close);
      return true;
    } finally {
      renewing.unlock();
    }
  }

  public int activeConnections() {
    var mx = pool.getHikariPoolMXBean();
    return mx == null ? 0 : mx.getActiveConnections();
  }

  @Override
  public void close() {
    closed = true;
    renewing.lock();
    try {
      pool.close();
    } finally {
      renewing.unlock();
    }
  }
}
