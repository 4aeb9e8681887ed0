package io.bulwark.dr;

import io.bulwark.embedded.EmbeddedPostgres;
import io.bulwark.storage.FileSystemBlobStore;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;

/** A primary archiving through a {@link WalArchiver} into a filesystem repository, all under one temp dir. */
final class TestCluster implements AutoCloseable {
  static final String PASSWORD = "test-password";
  final Path root;
  final Path spool;
  final FileSystemBlobStore store;
  final EmbeddedPostgres pg;
  final WalArchiver archiver;
  final WalSwitcher switcher;

  TestCluster(Path root) {
    this.root = root;
    this.spool = root.resolve("wal-spool");
    this.store = new FileSystemBlobStore(root.resolve("archive"));
    this.pg = EmbeddedPostgres.builder().dataDir(root.resolve("pg")).password(PASSWORD)
        .settings(WalArchiver.postgresSettings(spool, WalArchiver.DEFAULT_ARCHIVE_TIMEOUT))
        .setting("track_commit_timestamp", "on").setting("shared_buffers", "64MB").build();
    pg.start();
    this.archiver = new WalArchiver(store, spool);
    archiver.start();
    this.switcher = new WalSwitcher(new PrimaryAccess() {
      @Override
      public Connection connect() throws SQLException {
        return TestCluster.this.connect();
      }

      @Override
      public Path dataDir() {
        return pg.dataDir();
      }
    }, WalArchiver.DEFAULT_ARCHIVE_TIMEOUT).start();
  }

  Connection connect() throws SQLException {
    return DriverManager.getConnection(pg.jdbcUrl("postgres"), pg.user(), PASSWORD);
  }

  void sql(String sql) throws SQLException {
    try (Connection c = connect(); Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }

  BackupManifest backup() throws Exception {
    try (Connection c = connect()) {
      return BaseBackups.take(c, pg.dataDir(), store, archiver, Duration.ofSeconds(60));
    }
  }

  PointInTimeRestore.Request restoreTo(java.time.Instant t, String dir) {
    return new PointInTimeRestore.Request(java.util.Optional.ofNullable(t), root.resolve(dir), PASSWORD, pg.binariesDir(), false);
  }

  String logTail() {
    try {
      java.util.List<String> lines = java.nio.file.Files.readAllLines(pg.logFile());
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    } catch (java.io.IOException e) {
      return e.toString();
    }
  }

  @Override
  public void close() {
    switcher.close();
    archiver.close();
    pg.close();
  }
}
