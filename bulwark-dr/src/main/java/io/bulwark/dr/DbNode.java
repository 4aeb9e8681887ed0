package io.bulwark.dr;

import io.bulwark.embedded.EmbeddedPostgres;

/**
 * One PostgreSQL node the {@link FailoverController} manages: its data directory and settings
 * ({@link #postgres()}) and how its server process is run, which differs between {@code bulwark up}
 * (a child process of the supervisor) and tests (EmbeddedPostgres's managed mode).
 */
public interface DbNode {
  /** The node's name, e.g. {@code pg-a}; also its {@code application_name} when it streams. */
  String name();

  EmbeddedPostgres postgres();

  /**
   * Runs the server and returns once it accepts connections (a standby: once it is consistent).
   *
   * @throws RuntimeException if it exits or does not become ready
   */
  void start();

  /** Fast shutdown (SIGINT), waiting until the process is gone. */
  void stop();

  /** SIGKILL the postmaster and its backends (also one that this process did not start); waits until they are gone. */
  void kill();

  boolean isAlive();

  /** The postmaster's pid, or -1. */
  long pid();

  /** Called when the controller changes the node's role (for status and logs). */
  default void roleChanged(NodeRole role) {}
}
