package io.bulwark.node;

import io.bulwark.dr.DbNode;
import io.bulwark.dr.NodeRole;
import io.bulwark.embedded.EmbeddedPostgres;
import io.bulwark.embedded.EmbeddedPostgresException;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A database node of {@code bulwark up}: its postmaster is a child process of the supervisor,
 * listed in the component table as {@code pg-primary} or {@code pg-standby}, and started, stopped,
 * killed and rebuilt by the failover controller, never restarted behind its back.
 */
public final class LocalNode implements DbNode {
  private static final Logger log = LoggerFactory.getLogger(LocalNode.class);
  private static final Duration START_TIMEOUT = Duration.ofSeconds(120);

  private final EmbeddedPostgres pg;
  private final Supervisor supervisor;
  final Component component;

  LocalNode(String name, EmbeddedPostgres pg, Supervisor supervisor) {
    this.pg = pg;
    this.supervisor = supervisor;
    this.component = new Component(name, "pg-standby", pg.port(), null, pg.logFile().toFile(),
        () -> new ProcessBuilder(pg.serverCommand()));
  }

  @Override
  public String name() {
    return component.name;
  }

  @Override
  public EmbeddedPostgres postgres() {
    return pg;
  }

  @Override
  public synchronized void start() {
    if (component.alive()) return;
    prepareOrAdopt();
    Process p;
    try {
      p = supervisor.run(component);
    } catch (IOException e) {
      throw new EmbeddedPostgresException("cannot start " + name() + ": " + e.getMessage(), e);
    }
    pg.awaitReady(p, START_TIMEOUT);
  }

  /** A server still running on the data directory can only be an orphan of a supervisor that died: stop it. */
  private void prepareOrAdopt() {
    try {
      pg.prepareStart();
    } catch (EmbeddedPostgresException.AlreadyRunning orphan) {
      log.warn("{}: PostgreSQL (pid {}) is still running from a supervisor that died; stopping it (fast shutdown)",
          name(), orphan.pid());
      Supervisor.interrupt(orphan.pid());
      long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      while (ProcessHandle.of(orphan.pid()).map(ProcessHandle::isAlive).orElse(false) && System.nanoTime() < deadline) {
        LocalDeployment.pause(100);
      }
      pg.killOwner();
      pg.prepareStart();
    }
  }

  @Override
  public synchronized void stop() {
    Process p = component.process;
    if (p == null || !p.isAlive()) return;
    Supervisor.interrupt(p.pid());
    try {
      if (!p.waitFor(30, TimeUnit.SECONDS)) kill();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      kill();
    }
  }

  @Override
  public void kill() {
    Process p = component.process;
    if (p != null && p.isAlive()) pg.killProcess(p);
    pg.killOwner();
  }

  @Override
  public boolean isAlive() {
    return component.alive();
  }

  @Override
  public long pid() {
    return component.alive() ? component.pid() : -1;
  }

  @Override
  public void roleChanged(NodeRole role) {
    component.role = switch (role) {
      case PRIMARY -> "pg-primary";
      case STANDBY -> "pg-standby";
      case REBUILDING -> "pg-rebuilding";
      case DOWN -> "pg-down";
    };
    supervisor.writeComponents();
  }
}
