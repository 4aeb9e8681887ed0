package io.bulwark.node;

import java.io.File;
import java.time.Duration;
import java.time.Instant;
import java.util.function.Supplier;

/**
 * One supervised child process: what to run, where its log goes, and its restart state. A component
 * that dies is restarted after a backoff that doubles per quick failure (0.5 s up to 30 s) and resets
 * once the component has stayed up for 30 s.
 */
public final class Component {
  static final Duration MIN_BACKOFF = Duration.ofMillis(500);
  static final Duration MAX_BACKOFF = Duration.ofSeconds(30);
  static final Duration STABLE_AFTER = Duration.ofSeconds(30);

  public final String name;
  /** What it is now; a database node's role changes at failover (pg-primary, pg-standby). */
  public volatile String role;
  public final int port;
  final String healthPath;
  final File log;
  final Supplier<ProcessBuilder> command;
  /** Where its health endpoint answers: loopback, or the address it listens on (an agent's API server). */
  volatile String healthHost = "127.0.0.1";
  /** The certificate its health endpoint serves HTTPS with (a gateway with TLS); null for plain HTTP. */
  volatile java.nio.file.Path tlsCertificate;
  /** A second port some components have (the gateway's admin API); 0 when none. */
  public volatile int adminPort;
  public volatile Process process;
  volatile Instant startedAt;
  public volatile int restarts;
  private Duration backoff = MIN_BACKOFF;

  Component(String name, String role, int port, String healthPath, File log, Supplier<ProcessBuilder> command) {
    this.name = name;
    this.role = role;
    this.port = port;
    this.healthPath = healthPath;
    this.log = log;
    this.command = command;
  }

  /** Whether its health endpoint answers 200 (HTTP, or HTTPS trusting its own certificate), or its port accepts when it has none. */
  boolean healthy(int connectTimeoutMillis) {
    return healthPath == null ? Ports.accepts(port, connectTimeoutMillis) : Health.httpHealthy(healthHost, port, healthPath, tlsCertificate);
  }

  public long pid() {
    Process p = process;
    return p == null ? -1 : p.pid();
  }

  public boolean alive() {
    Process p = process;
    return p != null && p.isAlive();
  }

  /** The delay before the next restart, given how long the last run lasted. */
  synchronized Duration nextBackoff() {
    if (startedAt != null && Duration.between(startedAt, Instant.now()).compareTo(STABLE_AFTER) > 0) {
      backoff = MIN_BACKOFF;
    }
    Duration d = backoff;
    backoff = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : backoff.multipliedBy(2);
    return d;
  }
}
