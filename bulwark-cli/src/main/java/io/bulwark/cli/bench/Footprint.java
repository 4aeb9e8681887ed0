package io.bulwark.cli.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * The idle footprint of `bulwark up` exactly as a user runs it: the launcher starts it in a scratch
 * data directory, the bench waits until it is up and the standby is synchronous, lets it idle, then
 * sums the resident memory of the supervisor and every process it started, grouped by component
 * (a PostgreSQL node with all its backends).
 */
public final class Footprint {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Resident memory of one component: its processes' RSS and PSS summed. */
  public record Row(String component, int processes, long rssKib, long pssKib) {}

  private Footprint() {}

  /**
   * @param launcher the {@code bulwark} launcher script
   * @param idle how long the deployment idles before it is measured (background work settles)
   */
  public static List<Row> measure(Path launcher, Path dataDir, int port, Duration idle) throws Exception {
    Process up = startUp(launcher, dataDir, port);
    try {
      Thread.sleep(idle.toMillis()); // the idle period is what is measured, not a wait for a condition
      return rows(up.toHandle(), dataDir);
    } finally {
      stop(up);
    }
  }

  /**
   * Starts `bulwark up` through the launcher in dataDir and waits until it is up and its standby is
   * synchronous; its output goes to {@code DIR-up.log} beside dataDir. Stop it with {@link #stop}.
   */
  static Process startUp(Path launcher, Path dataDir, int port) throws Exception {
    Path log = dataDir.resolveSibling(dataDir.getFileName() + "-up.log");
    Files.createDirectories(log.getParent());
    Process up = new ProcessBuilder(launcher.toString(), "up", "--data-dir", dataDir.toString(), "--port", Integer.toString(port))
        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    try {
      await("`bulwark up` to print 'Bulwark is up' (log: " + log + ")", Duration.ofMinutes(3),
          () -> Files.exists(log) && Files.readString(log).contains("Bulwark is up"), up);
      await("the standby to be synchronous", Duration.ofMinutes(2),
          () -> dbStatus(dataDir).at("/cluster/standbyEligible").asBoolean(), up);
      return up;
    } catch (Exception | Error e) {
      stop(up);
      throw e;
    }
  }

  /** The supervisor's db-status.json (an empty object until it is written). */
  static JsonNode dbStatus(Path dataDir) throws IOException {
    Path f = dataDir.resolve("run").resolve("db-status.json");
    return Files.exists(f) ? JSON.readTree(f.toFile()) : JSON.createObjectNode();
  }

  static void stop(Process up) throws InterruptedException {
    up.destroy(); // SIGTERM: `up` stops everything it started
    if (!up.waitFor(60, TimeUnit.SECONDS)) up.destroyForcibly();
  }

  /** Groups the tree's processes by component: a component's process and its descendants. */
  static List<Row> rows(ProcessHandle up, Path dataDir) throws IOException {
    Map<Long, String> owner = owners(up, dataDir);
    Map<String, Row> sums = new TreeMap<>();
    for (ProcessMemory m : ProcessMemory.tree(up)) {
      String name = owner.getOrDefault(m.pid(), "other");
      sums.merge(name, new Row(name, 1, m.rssKib(), m.pssKib()),
          (a, b) -> new Row(name, a.processes() + b.processes(), a.rssKib() + b.rssKib(), a.pssKib() + b.pssKib()));
    }
    return new ArrayList<>(sums.values());
  }

  /** The component each live process of up's tree belongs to, by pid (the supervisor's own JVM: "supervisor (up)"). */
  static Map<Long, String> owners(ProcessHandle up, Path dataDir) throws IOException {
    Map<Long, String> owner = new HashMap<>();
    owner.put(up.pid(), "supervisor (up)");
    for (JsonNode c : JSON.readTree(dataDir.resolve("run").resolve("components.json").toFile())) {
      long pid = c.path("pid").asLong(-1);
      if (pid <= 0) continue;
      putTree(owner, pid, c.path("name").asText());
    }
    return owner;
  }

  /** Puts pid and every live descendant of it into owner, as name's. */
  public static void putTree(Map<Long, String> owner, long pid, String name) {
    owner.put(pid, name);
    ProcessHandle.of(pid).ifPresent(p -> p.descendants().forEach(d -> owner.put(d.pid(), name)));
  }

  interface Condition {
    boolean met() throws Exception;
  }

  static void await(String what, Duration timeout, Condition condition, Process up) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.met()) {
      if (!up.isAlive()) throw new IllegalStateException("`bulwark up` exited (code " + up.exitValue() + ") while waiting for " + what);
      if (System.nanoTime() > deadline) throw new IllegalStateException("timed out after " + timeout.toSeconds() + " s waiting for " + what);
      Thread.sleep(200); // polling the condition against the deadline above
    }
  }
}
