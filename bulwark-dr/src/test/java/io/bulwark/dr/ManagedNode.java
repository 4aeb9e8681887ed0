package io.bulwark.dr;

import io.bulwark.embedded.EmbeddedPostgres;

/** A {@link DbNode} run by EmbeddedPostgres's managed mode, for tests. */
final class ManagedNode implements DbNode {
  private final String name;
  private final EmbeddedPostgres postgres;
  volatile NodeRole role = NodeRole.DOWN;

  ManagedNode(String name, EmbeddedPostgres postgres) {
    this.name = name;
    this.postgres = postgres;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public EmbeddedPostgres postgres() {
    return postgres;
  }

  @Override
  public void start() {
    postgres.start();
  }

  @Override
  public void stop() {
    postgres.stop();
  }

  @Override
  public void kill() {
    postgres.kill();
    postgres.killOwner();
  }

  @Override
  public boolean isAlive() {
    return postgres.isRunning();
  }

  @Override
  public long pid() {
    return postgres.isRunning() ? postgres.pid() : -1;
  }

  @Override
  public void roleChanged(NodeRole role) {
    this.role = role;
  }
}
