package io.bulwark.node;

import io.bulwark.cluster.events.EventRecorder;
import io.bulwark.core.BulwarkException;
import io.bulwark.dr.BackupService;
import io.bulwark.dr.FailoverController;
import io.bulwark.dr.ReplicationRole;
import io.bulwark.embedded.EmbeddedPostgres;
import io.bulwark.embedded.EmbeddedPostgresException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How one machine's deployment runs its PostgreSQL: the topology, as a type instead of null checks.
 * {@link Single}: one node, restarted in place by the supervisor (crash recovery loses nothing).
 * {@link Replicated}: a primary and a hot standby under the {@link FailoverController}, which starts,
 * fences, promotes and rebuilds them (the supervisor does not restart them).
 */
sealed interface LocalDatabase permits LocalDatabase.Single, LocalDatabase.Replicated {

  /** Starts the server(s); returns once they are launched (the caller waits for connections). */
  void start();

  /** The URL clients use: with a standby, both nodes with {@code targetServerType=primary}. */
  String jdbcUrl(String database);

  /** The node process that is primary now. */
  Component primary();

  /** The node process that is standby now, if there is one. */
  Optional<Component> standby();

  /** The primary's data directory now (backups read it). */
  Path primaryDataDir();

  /** Writes run/db-status.json and serves a pending `bulwark db failover`. */
  void publishStatus(DataDir dir, BackupService backups);

  /** Stops deciding (no failover while everything stops); the servers keep running. */
  void stopDeciding();

  /** Stops the servers (fast shutdown; a standby before its primary). */
  void stop();

  /** One node, supervised like every role: restarted in place when it exits. */
  final class Single implements LocalDatabase {
    private static final Logger log = LoggerFactory.getLogger(Single.class);
    private final EmbeddedPostgres pg;
    private final Supervisor supervisor;
    private final Component component;

    Single(EmbeddedPostgres pg, Supervisor supervisor) {
      this.pg = pg;
      this.supervisor = supervisor;
      this.component = new Component(LocalDeployment.NODE_A, "pg-primary", pg.port(), null, pg.logFile().toFile(), () -> {
        pg.prepareStart();
        return new ProcessBuilder(pg.serverCommand());
      });
    }

    @Override
    public void start() {
      prepareOrAdopt();
      supervisor.start(component);
    }

    /**
     * Prepares the data directory. A server still running on it can only be an orphan of a
     * supervisor that died (this one holds the data directory's lock): stop it, then go on.
     */
    private void prepareOrAdopt() {
      try {
        pg.prepareStart();
      } catch (EmbeddedPostgresException.AlreadyRunning orphan) {
        log.warn("PostgreSQL (pid {}) is still running from a supervisor that died; stopping it (fast shutdown)", orphan.pid());
        Supervisor.interrupt(orphan.pid());
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (ProcessHandle.of(orphan.pid()).map(ProcessHandle::isAlive).orElse(false) && System.nanoTime() < deadline) {
          LocalDeployment.pause(100);
        }
        pg.prepareStart();
      }
    }

    /** SIGKILL, and no restart until {@link #restart()}: for failure drills. */
    void crash() {
      supervisor.forget(component);
      Process p = component.process;
      if (p == null) return;
      // its backends outlive a SIGKILLed postmaster for a moment and hold its shared memory; a restart
      // in that window fails ("pre-existing shared memory block is still in use"), so wait for them
      List<ProcessHandle> children = p.descendants().toList();
      p.destroyForcibly();
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      try {
        p.waitFor();
        while (children.stream().anyMatch(ProcessHandle::isAlive) && System.nanoTime() < deadline) LocalDeployment.pause(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    void restart() {
      supervisor.start(component);
    }

    @Override
    public String jdbcUrl(String database) {
      return pg.jdbcUrl(database);
    }

    @Override
    public Component primary() {
      return component;
    }

    @Override
    public Optional<Component> standby() {
      return Optional.empty();
    }

    @Override
    public Path primaryDataDir() {
      return pg.dataDir();
    }

    @Override
    public void publishStatus(DataDir dir, BackupService backups) {
      DbStatus.write(dir, null, pg, backups);
    }

    @Override
    public void stopDeciding() {}

    @Override
    public void stop() {
      if (component.alive()) {
        Supervisor.interrupt(component.pid());
        Supervisor.terminate(List.of(component), Duration.ofSeconds(30));
      }
    }
  }

  /** A primary and a synchronous hot standby (pg-a, pg-b), failed over by the controller. */
  final class Replicated implements LocalDatabase {
    private final EmbeddedPostgres a;
    private final EmbeddedPostgres b;
    private final FailoverController controller;

    Replicated(EmbeddedPostgres a, EmbeddedPostgres b, Supervisor supervisor, Path haState, String password, ReplicationRole replication,
        EventRecorder events) {
      this.a = a;
      this.b = b;
      this.controller = new FailoverController(new LocalNode(LocalDeployment.NODE_A, a, supervisor),
          new LocalNode(LocalDeployment.NODE_B, b, supervisor), haState, a.user(), password, FailoverController.Config.defaults(),
          events, replication);
    }

    @Override
    public void start() {
      controller.bootstrap();
      controller.start();
    }

    FailoverController controller() {
      return controller;
    }

    @Override
    public String jdbcUrl(String database) {
      return "jdbc:postgresql://127.0.0.1:" + a.port() + ",127.0.0.1:" + b.port() + "/" + database
          + "?targetServerType=primary&hostRecheckSeconds=1&connectTimeout=3";
    }

    @Override
    public Component primary() {
      return ((LocalNode) controller.primary()).component;
    }

    @Override
    public Optional<Component> standby() {
      return Optional.of(((LocalNode) controller.standby()).component);
    }

    @Override
    public Path primaryDataDir() {
      return controller.primary().postgres().dataDir();
    }

    @Override
    public void publishStatus(DataDir dir, BackupService backups) {
      DbStatus.write(dir, controller, a, backups);
      DbStatus.serveSwitchover(dir, controller);
    }

    @Override
    public void stopDeciding() {
      controller.close();
    }

    @Override
    public void stop() {
      // the standby first, so that the primary's shutdown does not wait for it
      controller.standby().stop();
      controller.primary().stop();
    }
  }

  /** The topology's single node, or a clear error for what needs one. */
  static Single single(LocalDatabase db, String what) {
    if (db instanceof Single s) return s;
    throw new BulwarkException(what + " is for a single database node; with a standby, kill the primary instead");
  }
}
