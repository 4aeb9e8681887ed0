package io.bulwark.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EmbeddedPostgresTest {
  private static final String PASSWORD = "s3cret-Pa55word";

  @TempDir Path tmp;
  @TempDir static Path templateRoot;
  private static Path template;
  private final List<EmbeddedPostgres> started = new ArrayList<>();

  /**
   * A copy of a cluster initialized once per class (initdb with fsync costs seconds on a busy
   * machine); for tests that are not about initdb.
   */
  private EmbeddedPostgres initialized(String name) throws Exception {
    synchronized (EmbeddedPostgresTest.class) {
      if (template == null) {
        EmbeddedPostgres.builder().dataDir(templateRoot.resolve("data")).password(PASSWORD).build().initIfNeeded();
        template = templateRoot.resolve("data");
      }
    }
    Path dataDir = tmp.resolve(name);
    try (Stream<Path> files = Files.walk(template)) {
      for (Path source : files.toList()) {
        Files.copy(source, dataDir.resolve(template.relativize(source).toString()), StandardCopyOption.COPY_ATTRIBUTES);
      }
    }
    return postgres(dataDir);
  }

  @AfterEach
  void stopAll() {
    started.forEach(EmbeddedPostgres::kill);
  }

  private EmbeddedPostgres postgres(Path dataDir) {
    EmbeddedPostgres pg = EmbeddedPostgres.builder().dataDir(dataDir).password(PASSWORD).build();
    started.add(pg);
    return pg;
  }

  private static Connection connect(EmbeddedPostgres pg) throws SQLException {
    return DriverManager.getConnection(pg.jdbcUrl("postgres"), pg.user(), pg.password());
  }

  private static String query(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(sql)) {
      assertThat(rs.next()).as(sql).isTrue();
      return rs.getString(1);
    }
  }

  private static void execute(EmbeddedPostgres pg, String sql) throws SQLException {
    try (Connection c = connect(pg);
        Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }

  @Test
  void runs_durably_with_checksums_and_keeps_committed_rows_across_a_restart() throws Exception {
    Path dataDir = tmp.resolve("pgdata");
    EmbeddedPostgres pg = postgres(dataDir);
    assertThat(pg.isInitialized()).isFalse();

    pg.start();

    assertThat(pg.isRunning()).isTrue();
    assertThat(pg.isReady()).isTrue();
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dataDir))).isEqualTo("rwx------");
    try (Connection c = connect(pg)) {
      assertThat(query(c, "SHOW fsync")).isEqualTo("on");
      assertThat(query(c, "SHOW synchronous_commit")).isEqualTo("on");
      assertThat(query(c, "SHOW full_page_writes")).isEqualTo("on");
      assertThat(query(c, "SHOW data_checksums")).isEqualTo("on");
      assertThat(query(c, "SHOW wal_level")).isEqualTo("replica");
      assertThat(query(c, "SHOW listen_addresses")).isEqualTo("127.0.0.1");
      assertThat(query(c, "SHOW server_version")).startsWith("18.");
      assertThat(query(c, "SELECT current_user")).isEqualTo("bulwark");
      try (Statement s = c.createStatement()) {
        s.execute("CREATE TABLE task (id int PRIMARY KEY, name text)");
        s.execute("INSERT INTO task VALUES (1, 'survives a restart')");
      }
    }
    assertThatThrownBy(() -> DriverManager.getConnection(pg.jdbcUrl("postgres"), pg.user(), "wrong").close())
        .isInstanceOf(SQLException.class)
        .hasMessageContaining("password authentication failed");

    long pid = pg.pid();
    pg.stop();
    assertThat(pg.isRunning()).isFalse();
    assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).isFalse();
    assertThat(dataDir.resolve("postmaster.pid")).doesNotExist();

    pg.start();
    try (Connection c = connect(pg)) {
      assertThat(query(c, "SELECT name FROM task WHERE id = 1")).isEqualTo("survives a restart");
    }
    pg.stop();

    String log = Files.readString(pg.logFile(), StandardCharsets.UTF_8);
    assertThat(pg.logFile()).isEqualTo(tmp.resolve("pgdata.log"));
    assertThat(log).contains("database system is ready to accept connections").doesNotContain(PASSWORD);
    assertThat(dataDir.resolve("postgresql.conf")).content().contains("include_if_exists = 'bulwark.conf'");
    assertThat(dataDir.resolve(EmbeddedPostgres.CONF_FILE)).content().contains("fsync = 'on'");
    try (var siblings = Files.list(tmp)) {
      assertThat(siblings.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("pgdata", "pgdata.log");
    }
  }

  @Test
  void committed_rows_survive_a_sigkill_of_the_postmaster() throws Exception {
    EmbeddedPostgres pg = initialized("crash");
    pg.start();
    execute(pg, "CREATE TABLE task (id int PRIMARY KEY)");
    execute(pg, "INSERT INTO task SELECT generate_series(1, 1000)");
    long pid = pg.pid();

    pg.kill();

    assertThat(pg.isRunning()).isFalse();
    assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).isFalse();
    Path pidFile = pg.dataDir().resolve("postmaster.pid");
    assertThat(pidFile).exists(); // left behind by the crash
    // after a reboot the recorded pid may belong to an unrelated live process: still stale
    List<String> lines = new ArrayList<>(Files.readAllLines(pidFile));
    lines.set(0, Long.toString(ProcessHandle.current().pid()));
    Files.write(pidFile, lines);
    pg.start();
    try (Connection c = connect(pg)) {
      assertThat(query(c, "SELECT count(*) FROM task")).isEqualTo("1000");
    }
    assertThat(pg.logFile()).content().contains("database system was interrupted");
  }

  private EmbeddedPostgres kept(Path dataDir, Path deadline, int port) {
    EmbeddedPostgres pg = EmbeddedPostgres.builder().dataDir(dataDir).port(port).password(PASSWORD).keeper(deadline).build();
    started.add(pg);
    return pg;
  }

  @Test
  void a_server_under_a_keeper_is_adopted_by_a_new_instance_and_killed_with_its_backends_when_nobody_holds_it()
      throws Exception {
    EmbeddedPostgres first = initialized("kept");
    Path deadline = tmp.resolve("keeper-deadline");
    EmbeddedPostgres a = kept(first.dataDir(), deadline, first.port());
    a.start();
    long pid = a.pid();
    assertThat(ProcessHandle.of(pid).flatMap(ProcessHandle::parent).flatMap(h -> h.info().command()).orElse(""))
        .as("the postmaster's parent is its keeper, not this JVM").endsWith("bash");
    a.holdFor(Duration.ofSeconds(30));
    execute(a, "CREATE TABLE kept (v int)");

    // the supervisor "restarts": a new instance adopts the running server instead of starting another
    EmbeddedPostgres b = kept(first.dataDir(), deadline, a.port());
    assertThat(b.adoptRunning()).isTrue();
    assertThat(b.isRunning()).isTrue();
    assertThat(b.pid()).isEqualTo(pid);
    try (Connection c = connect(b)) {
      execute(b, "INSERT INTO kept VALUES (1)");
      // nobody holds it any more: the keeper kills the postmaster and the backends with it
      b.holdFor(Duration.ofMillis(300));
      long heldAt = System.nanoTime();
      await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20)).until(() -> !b.isRunning());
      assertThat(Duration.ofNanos(System.nanoTime() - heldAt)).isLessThan(Duration.ofSeconds(2));
      assertThatThrownBy(() -> query(c, "SELECT 1")).as("an open connection's backend died with it").isInstanceOf(SQLException.class);
    }
    assertThat(Files.readString(first.logFile())).contains("bulwark-keeper: the supervisor did not extend the deadline");
    assertThat(b.adoptRunning()).as("nothing left to adopt").isFalse();

    // a fresh start runs crash recovery and keeps what was committed
    b.start();
    b.holdFor(Duration.ofSeconds(30));
    try (Connection c = connect(b)) {
      assertThat(query(c, "SELECT count(*) FROM kept")).isEqualTo("1");
    }
    b.stop();
    assertThat(b.isRunning()).isFalse();
  }

  @Test
  void a_second_instance_on_the_same_data_directory_is_refused() throws Exception {
    EmbeddedPostgres first = initialized("shared");
    Path dataDir = first.dataDir();
    first.start();
    EmbeddedPostgres second = postgres(dataDir);

    assertThatThrownBy(second::start)
        .isInstanceOf(EmbeddedPostgresException.AlreadyRunning.class)
        .hasMessageContaining("PostgreSQL already running on " + dataDir + " (pid " + first.pid() + ")")
        .satisfies(e -> assertThat(((EmbeddedPostgresException.AlreadyRunning) e).pid()).isEqualTo(first.pid()));
    assertThat(second.isRunning()).isFalse();
    assertThat(first.isReady()).isTrue();
    execute(first, "SELECT 1");
  }

  @Test
  void a_supervisor_can_run_the_server_command_as_its_own_child_and_stop_it_with_sigint() throws Exception {
    EmbeddedPostgres pg = initialized("supervised");
    pg.prepareStart();
    assertThat(pg.isInitialized()).isTrue();
    List<String> command = pg.serverCommand();
    assertThat(command).containsSubsequence(
        pg.binariesDir().resolve("bin/postgres").toString(), "-D", pg.dataDir().toString(), "-p", Integer.toString(pg.port()));
    if (EmbeddedPostgres.currentUid() == 0) {
      assertThat(command.subList(0, 2)).satisfiesExactly(
          unshare -> assertThat(unshare).endsWith("/unshare"), flag -> assertThat(flag).isEqualTo("-U"));
    }

    Process postmaster = pg.processBuilder().start();
    try {
      pg.awaitReady(postmaster, Duration.ofSeconds(30));
      await().atMost(Duration.ofSeconds(5)).until(pg::isReady);
      execute(pg, "SELECT 1");
      // the child's pid is the postmaster's own (unshare execs it)
      assertThat(Files.readAllLines(pg.dataDir().resolve("postmaster.pid")).get(0)).isEqualTo(Long.toString(postmaster.pid()));

      new ProcessBuilder("kill", "-INT", Long.toString(postmaster.pid())).start().waitFor();
      assertThat(postmaster.waitFor(30, TimeUnit.SECONDS)).isTrue();
      assertThat(postmaster.exitValue()).isZero();
      assertThat(pg.isReady()).isFalse();
    } finally {
      postmaster.destroyForcibly();
    }
    assertThat(pg.logFile()).content().contains("received fast shutdown request");
  }

  @Test
  void a_failed_start_reports_the_end_of_the_server_log() throws Exception {
    Path dataDir = initialized("badconf").dataDir();
    EmbeddedPostgres pg =
        EmbeddedPostgres.builder().dataDir(dataDir).password(PASSWORD).setting("shared_buffers", "lots").build();
    started.add(pg);

    assertThatThrownBy(pg::start)
        .isInstanceOf(EmbeddedPostgresException.class)
        .hasMessageContaining("exited with status")
        .hasMessageContaining("shared_buffers");
    assertThat(pg.isRunning()).isFalse();
    assertThat(pg.isInitialized()).isTrue();
  }

  @Test
  void a_data_directory_of_another_major_version_is_refused() throws Exception {
    Path dataDir = tmp.resolve("old");
    Files.createDirectories(dataDir);
    Files.writeString(dataDir.resolve("PG_VERSION"), "16\n");
    EmbeddedPostgres pg = postgres(dataDir);

    assertThatThrownBy(pg::initIfNeeded)
        .isInstanceOf(EmbeddedPostgresException.class)
        .hasMessageContaining("was created by PostgreSQL 16, but the binaries in " + pg.binariesDir() + " are PostgreSQL 18")
        .hasMessageContaining("pg_upgrade");
    assertThatThrownBy(pg::start).hasMessageContaining("was created by PostgreSQL 16");
  }

  @Test
  void a_non_empty_directory_without_pg_version_is_not_initialized_over() throws Exception {
    Path dataDir = tmp.resolve("precious");
    Files.createDirectories(dataDir);
    Files.writeString(dataDir.resolve("notes.txt"), "keep me");

    assertThatThrownBy(postgres(dataDir)::initIfNeeded)
        .isInstanceOf(EmbeddedPostgresException.class)
        .hasMessageContaining("is not empty (contains notes.txt)")
        .hasMessageContaining("refusing to run initdb");
    assertThat(dataDir.resolve("notes.txt")).hasContent("keep me");
  }

  @Test
  void a_failed_initdb_reports_its_output_and_leaves_no_half_made_data_directory() throws Exception {
    Path fakeBinaries = tmp.resolve("fake");
    Files.createDirectories(fakeBinaries.resolve("bin"));
    script(fakeBinaries.resolve("bin/postgres"), "echo 'postgres (PostgreSQL) 18.6'");
    // creates some files in -D (its $2) like a real initdb would, then fails
    script(fakeBinaries.resolve("bin/initdb"), "touch \"$2/PG_VERSION\"; echo 'initdb: error: simulated failure' >&2; exit 1");
    Path dataDir = tmp.resolve("data/pg");
    EmbeddedPostgres pg =
        EmbeddedPostgres.builder().dataDir(dataDir).password(PASSWORD).binariesDir(fakeBinaries).build();

    assertThatThrownBy(pg::initIfNeeded)
        .isInstanceOf(EmbeddedPostgresException.class)
        .hasMessageContaining("initdb for " + dataDir + " exited with status 1")
        .hasMessageContaining("initdb: error: simulated failure");
    assertThat(dataDir).doesNotExist();
    try (var siblings = Files.list(dataDir.getParent())) {
      assertThat(siblings.map(p -> p.getFileName().toString())).containsExactly("pg.log");
    }
    assertThat(pg.logFile()).content().contains("simulated failure").doesNotContain(PASSWORD);

    // an existing empty directory stays as it was
    Files.createDirectories(dataDir);
    assertThatThrownBy(pg::initIfNeeded).hasMessageContaining("simulated failure");
    assertThat(dataDir).isEmptyDirectory();
    try (var siblings = Files.list(dataDir.getParent())) {
      assertThat(siblings.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("pg", "pg.log");
    }
  }

  @Test
  void an_existing_empty_data_directory_is_replaced_by_a_fresh_cluster_atomically() throws Exception {
    Path dataDir = tmp.resolve("empty");
    Files.createDirectories(dataDir);
    EmbeddedPostgres pg = postgres(dataDir);

    pg.initIfNeeded();

    assertThat(pg.isInitialized()).isTrue();
    assertThat(dataDir.resolve("PG_VERSION")).hasContent("18");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dataDir))).isEqualTo("rwx------");
  }

  @Test
  void an_interrupted_in_place_initdb_is_redone() throws Exception {
    Path fakeBinaries = tmp.resolve("fake");
    Files.createDirectories(fakeBinaries.resolve("bin"));
    script(fakeBinaries.resolve("bin/postgres"), "echo 'postgres (PostgreSQL) 18.6'");
    script(fakeBinaries.resolve("bin/initdb"), "echo 18 > \"$2/PG_VERSION\"; echo '# conf' > \"$2/postgresql.conf\"");
    Path dataDir = tmp.resolve("mount/pg");
    Files.createDirectories(dataDir);
    Files.writeString(dataDir.resolve("PG_VERSION"), "18\n");
    Files.writeString(dataDir.resolve("half-written"), "x");
    Files.writeString(tmp.resolve("mount/.pg.initdb-incomplete"), "");
    EmbeddedPostgres pg =
        EmbeddedPostgres.builder().dataDir(dataDir).password(PASSWORD).binariesDir(fakeBinaries).build();

    pg.initIfNeeded();

    try (var files = Files.list(dataDir)) {
      assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("PG_VERSION", "postgresql.conf");
    }
    assertThat(dataDir.resolve("postgresql.conf")).content()
        .endsWith("include_if_exists = 'bulwark.conf'\n# Bulwark: settings changed at run time (e.g. synchronous_standby_names),"
            + " applied on reload\ninclude_if_exists = 'bulwark-runtime.conf'\n");
    assertThat(tmp.resolve("mount/.pg.initdb-incomplete")).doesNotExist();
    pg.initIfNeeded(); // now initialized: nothing to do
    assertThat(dataDir.resolve("postgresql.conf")).content().containsOnlyOnce("include_if_exists = 'bulwark.conf'")
        .containsOnlyOnce("include_if_exists = 'bulwark-runtime.conf'");
  }

  private static void script(Path path, String body) throws Exception {
    Files.writeString(path, "#!/bin/sh\n" + body + "\n");
    Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rwxr-xr-x"));
  }

  @Test
  void the_cluster_hosts_block_of_pg_hba_is_rewritten_on_every_start_and_the_rest_kept() throws Exception {
    Path dataDir = initialized("hba").dataDir();
    Path hba = dataDir.resolve("pg_hba.conf");
    String initdbLines = Files.readString(hba);
    EmbeddedPostgres.builder().dataDir(dataDir).password(PASSWORD).clientHosts(List.of("127.0.0.11", "db.example"))
        .build().prepareStart();
    assertThat(Files.readString(hba)).startsWith(initdbLines)
        .contains("host    all             all             127.0.0.11/32    scram-sha-256")
        .contains("host    replication     all             db.example    scram-sha-256");
    EmbeddedPostgres.builder().dataDir(dataDir).password(PASSWORD).clientHosts(List.of("127.0.0.12")).build().prepareStart();
    assertThat(Files.readString(hba)).doesNotContain("127.0.0.11").contains("127.0.0.12/32").containsOnlyOnce(ServerSettings.HBA_BEGIN);
    EmbeddedPostgres.builder().dataDir(dataDir).password(PASSWORD).build().prepareStart();
    assertThat(Files.readString(hba)).isEqualTo(initdbLines);
    assertThatThrownBy(() -> EmbeddedPostgres.builder().dataDir(dataDir).password(PASSWORD).clientHosts(List.of("10.0.0.1 trust")))
        .isInstanceOf(EmbeddedPostgresException.class).hasMessageContaining("not an address or host name");
  }
}
