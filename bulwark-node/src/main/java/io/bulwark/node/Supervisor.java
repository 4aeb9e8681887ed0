package io.bulwark.node;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.bulwark.cluster.events.Event.Kinds;
import io.bulwark.cluster.events.EventRecorder;
import io.bulwark.core.BulwarkException;
import io.bulwark.core.ProcessSecrets;
import java.io.IOException;
import java.lang.ProcessBuilder.Redirect;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts components as child processes, restarts any that dies (with backoff, logged), and keeps
 * {@code run/components.json} current for {@code bulwark status}. Stops them in reverse order.
 */
public final class Supervisor implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Supervisor.class);
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private final DataDir dir;
  private final List<Component> components = new CopyOnWriteArrayList<>();
  private final ScheduledExecutorService restarts =
      Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("supervisor-restart").factory());
  private final java.util.Set<Component> unsupervised = java.util.concurrent.ConcurrentHashMap.newKeySet();
  private volatile boolean stopping;
  private volatile boolean closed;

  private final EventRecorder events;

  Supervisor(DataDir dir, EventRecorder events) {
    this.dir = dir;
    this.events = events;
  }

  /** Starts a component and supervises it from now on. */
  public void start(Component c) {
    components.add(c);
    launch(c);
  }

  private synchronized void launch(Component c) {
    if (stopping) return;
    try {
      Process p = spawn(c);
      p.onExit().thenAccept(exited -> onExit(c, exited));
      if (c.restarts > 0) events.record(Kinds.COMPONENT_START, c.name + " restarted (pid " + p.pid() + ", restart #" + c.restarts + ")");
    } catch (IOException | RuntimeException e) {
      log.error("could not start {}: {}", c.name, e.getMessage());
      scheduleRestart(c, -1);
    }
    writeComponents();
  }

  /**
   * Runs a component whose restarts someone else decides (a database node: the failover controller
   * restarts, rebuilds or fences it). Listed in the component table; not restarted when it exits.
   */
  synchronized Process run(Component c) throws IOException {
    if (stopping) throw new IllegalStateException("shutting down: not starting " + c.name);
    if (!components.contains(c)) components.add(c);
    unsupervised.add(c);
    Process p = spawn(c);
    p.onExit().thenAccept(exited -> {
      if (!stopping) writeComponents();
    });
    writeComponents();
    return p;
  }

  /** Starts c's process with its output appended to its log. */
  private Process spawn(Component c) throws IOException {
    ProcessBuilder pb = c.command.get();
    pb.redirectErrorStream(true).redirectOutput(Redirect.appendTo(c.log));
    // secrets go on the child's stdin, not in its environment (readable by any code in it, and inherited)
    Map<String, String> secrets = ProcessSecrets.takeFrom(pb.environment());
    Process p = pb.start();
    try {
      ProcessSecrets.send(p, secrets);
    } catch (IOException e) {
      p.destroyForcibly();
      throw e;
    }
    c.process = p;
    c.startedAt = Instant.now();
    log.info("started {} (pid {}{})", c.name, p.pid(), c.port > 0 ? ", port " + c.port : "");
    return p;
  }

  private void onExit(Component c, Process exited) {
    if (stopping || c.process != exited || !components.contains(c) || unsupervised.contains(c)) return;
    scheduleRestart(c, exited.exitValue());
  }

  private void scheduleRestart(Component c, int exitCode) {
    if (stopping) return;
    Duration delay = c.nextBackoff();
    c.restarts++;
    log.warn("{} exited (code {}); restart #{} in {} ms (log: {})", c.name, exitCode, c.restarts, delay.toMillis(), c.log);
    events.record(Kinds.COMPONENT_EXIT, c.name + " (" + c.role + ") " + describeExit(exitCode) + "; restart #" + c.restarts
        + " in " + delay.toMillis() + " ms (log: " + c.log + ")");
    restarts.schedule(() -> launch(c), delay.toMillis(), TimeUnit.MILLISECONDS);
    writeComponents();
  }

  /** What an exit code says: a signal (128 + n, as the shell reports a killed child), or a code. */
  static String describeExit(int exitCode) {
    if (exitCode < 0) return "could not be started";
    if (exitCode > 128 && exitCode <= 128 + 64) {
      int signal = exitCode - 128;
      String name = switch (signal) {
        case 9 -> " (SIGKILL: killed, or out of memory)";
        case 15 -> " (SIGTERM)";
        case 6 -> " (SIGABRT)";
        case 11 -> " (SIGSEGV)";
        default -> "";
      };
      return "was killed by signal " + signal + name;
    }
    return "exited with code " + exitCode;
  }

  /**
   * Keeps a component down when it exits (listed, not restarted) until {@link #release}: for drills
   * that need a component to stay dead, as a host that did not come back would.
   */
  public synchronized void holdDown(Component c) {
    unsupervised.add(c);
  }

  /** Supervises a held-down component again, starting it now if it is not running. */
  public synchronized void release(Component c) {
    unsupervised.remove(c);
    if (!c.alive()) launch(c);
  }

  /** Stops supervising a component (it will not be restarted); the caller stops its process. */
  public void forget(Component c) {
    components.remove(c);
    writeComponents();
  }

  public List<Component> components() {
    return List.copyOf(components);
  }

  /** Writes the component table atomically (temp file + rename) for `bulwark status`. */
  synchronized void writeComponents() {
    if (closed) return; // a component that exits while everything stops must not recreate the table
    List<Map<String, Object>> rows = new ArrayList<>();
    for (Component c : components) {
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("name", c.name);
      row.put("role", c.role);
      row.put("pid", c.pid());
      row.put("port", c.port);
      if (c.adminPort > 0) row.put("adminPort", c.adminPort);
      row.put("healthPath", c.healthPath);
      if (!c.healthHost.equals("127.0.0.1")) row.put("healthHost", c.healthHost);
      if (c.tlsCertificate != null) row.put("tlsCertificate", c.tlsCertificate.toString());
      row.put("restarts", c.restarts);
      row.put("startedAt", c.startedAt == null ? null : c.startedAt.toString());
      row.put("log", c.log.toString());
      rows.add(row);
    }
    try {
      Path tmp = dir.componentsFile().resolveSibling("components.json.tmp");
      JSON.writeValue(tmp.toFile(), rows);
      Files.move(tmp, dir.componentsFile(), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      log.warn("cannot write {}: {}", dir.componentsFile(), e.getMessage());
    }
  }

  /** Stops the given components (SIGTERM, then SIGKILL after the grace period), all at once. */
  static void terminate(List<Component> group, Duration grace) {
    for (Component c : group) {
      Process p = c.process;
      if (p != null && p.isAlive()) p.destroy();
    }
    long deadline = System.nanoTime() + grace.toNanos();
    for (Component c : group) {
      Process p = c.process;
      if (p == null) continue;
      try {
        long left = Math.max(0, deadline - System.nanoTime());
        if (!p.waitFor(left, TimeUnit.NANOSECONDS)) {
          log.warn("{} did not stop within {} s; killing it", c.name, grace.toSeconds());
          p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        p.destroyForcibly();
      }
    }
  }

  /** Sends SIGINT (PostgreSQL's fast shutdown) to a process. */
  static void interrupt(long pid) {
    try {
      new ProcessBuilder("kill", "-INT", Long.toString(pid)).inheritIO().start().waitFor(5, TimeUnit.SECONDS);
    } catch (IOException e) {
      throw new BulwarkException("cannot signal pid " + pid + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Stops supervising: from now on nothing is restarted. */
  public void stopRestarting() {
    stopping = true;
    restarts.shutdownNow();
  }

  @Override
  public synchronized void close() {
    stopRestarting();
    closed = true;
    try {
      Files.deleteIfExists(dir.componentsFile());
    } catch (IOException ignored) {
      // best effort
    }
  }
}
