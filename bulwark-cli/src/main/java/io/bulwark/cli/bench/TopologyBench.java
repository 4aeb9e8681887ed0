package io.bulwark.cli.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.bulwark.core.BulwarkException;
import io.bulwark.core.auth.ApiKey;
import io.bulwark.node.DataDir;
import io.bulwark.postgres.ApiKeyRepository;
import io.bulwark.postgres.Database;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;

/**
 * The default topology as users run it ({@code bulwark bench --only topology}): `bulwark up` started
 * through the launcher in a scratch directory (gateway, two API servers, primary and synchronous
 * standby, WAL archiving, base backups, workers, monitor), waited for until its standby is
 * synchronous and its first base backup is verified; then a tenant submits {@code {"type":"noop"}}
 * through the gateway while the workers drain the queue. This JVM is only the load generator: every
 * figure of CPU is of `up`'s processes, read from {@code /proc} before the load and after the last
 * task finished, and divided by the tasks run.
 *
 * <p>Three runs after a warm-up: closed loop on {@code connections} connections (the maximum rate),
 * open loop at half that rate (or a given one), and 4 connections (low load); each reports submits/s, submit
 * latency p50/p99/p99.9, tasks/s end to end, and CPU µs per task of every process.
 */
public final class TopologyBench {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String TENANT = "topology-bench";
  private static final byte[] BODY = "{\"type\":\"noop\"}".getBytes(StandardCharsets.UTF_8);

  private final Path launcher;
  private final Path dataDir;
  private final int port;
  private final int connections;
  private final double seconds;
  private final double rate;
  private final BiConsumer<String, String> report;
  /** The components that are PostgreSQL nodes (their role is pg-primary or pg-standby), read once `up` is up. */
  private Set<String> postgresNodes = Set.of();

  /**
   * @param seconds length of the maximum-rate run; the open-loop and low-load runs take half as long
   * @param rate the open-loop run's rate; 0 for half the measured maximum (a fixed rate compares commits
   *     under the same load: at their own maximum, a slower commit's batches are smaller everywhere)
   */
  public TopologyBench(Path launcher, Path dataDir, int port, int connections, double seconds, double rate,
      BiConsumer<String, String> report) {
    if (rate < 0) throw new BulwarkException("--topology-rate must be 0 (half the maximum) or more, got " + rate);
    if (!(seconds >= 2)) throw new BulwarkException("--topology-seconds must be at least 2, got " + seconds);
    if (connections < 1) throw new BulwarkException("--connections must be at least 1, got " + connections);
    this.launcher = launcher;
    this.dataDir = dataDir;
    this.port = port;
    this.connections = connections;
    this.seconds = seconds;
    this.rate = rate;
    this.report = report;
  }

  public void run() throws Exception {
    Process up = Footprint.startUp(launcher, dataDir, port);
    try {
      Set<String> nodes = new java.util.HashSet<>();
      for (JsonNode c : components()) if (c.path("role").asText().startsWith("pg-")) nodes.add(c.path("name").asText());
      postgresNodes = nodes;
      Footprint.await("the first base backup to be verified (a minute after it is taken)", Duration.ofMinutes(4),
          () -> Footprint.dbStatus(dataDir).at("/backups/lastVerification").isObject(), up);
      try (Database db = Database.open(new Database.Config("jdbc:postgresql://127.0.0.1:" + primaryPort() + "/bulwark", "bulwark",
          new DataDir(dataDir).pgPassword(), 2, Duration.ofSeconds(5), "topology-bench"))) {
        ApiKey key = ApiKey.generate();
        new ApiKeyRepository(db).create(key.id(), TENANT, "bench topology", key.secretHash(), false);
        HttpLoad load = new HttpLoad("127.0.0.1", port);
        byte[] request = HttpConnection.request("POST", "/v1/tasks", key.token(), "", BODY);
        measure(up, db, "warm-up", () -> load.closedLoop(connections, Math.min(10, seconds), n -> request), false);
        LoadResult max = measure(up, db, "maximum rate (" + connections + " connections, closed loop, " + fmt(seconds) + " s)",
            () -> load.closedLoop(connections, seconds, n -> request), true);
        double fixed = rate > 0 ? rate : Math.max(1, max.rate() / 2);
        measure(up, db, String.format("%s (%,.0f submits/s, open loop, %s s)", rate > 0 ? "a fixed rate" : "half the maximum", fixed,
            fmt(seconds / 2)), () -> load.openLoop(connections, seconds / 2, fixed, n -> request), true);
        measure(up, db, "low load (4 connections, closed loop, " + fmt(seconds / 2) + " s)",
            () -> load.closedLoop(4, seconds / 2, n -> request), true);
      }
    } finally {
      Footprint.stop(up);
    }
  }

  interface Run {
    LoadResult load() throws Exception;
  }

  /** One run: CPU of up's processes from before the load until its last task finished, divided by the tasks run. */
  private LoadResult measure(Process up, Database db, String name, Run run, boolean reported) throws Exception {
    Instant from = Instant.now().minusMillis(100);
    long machineBefore = machineBusyMicros();
    Map<String, Long> before = cpu(up);
    LoadResult r = run.load();
    awaitDrained(db, from, up);
    Map<String, Long> spent = ProcessCpu.difference(before, cpu(up));
    long machine = machineBusyMicros() - machineBefore;
    double[] counted = ofRunTasks(db, from, "count(*), extract(epoch FROM max(finished_at) - min(created_at))", "true");
    long tasks = (long) counted[0];
    double span = counted[1];
    if (!reported) return r;
    long total = spent.values().stream().mapToLong(Long::longValue).sum();
    double perTask = tasks == 0 ? Double.NaN : (double) total / tasks;
    report.accept("topology: " + name, String.format("submits %,.0f/s (ok %d, failed %d), p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms;"
        + " end to end %,.0f tasks/s (%d tasks, first submit to last finish %.1f s); CPU per task %,.0f µs in `up`'s processes"
        + " (%,.0f µs on the whole machine, the load generator included)", r.rate(), r.ok(), r.failed(), r.percentileMillis(50),
        r.percentileMillis(99), r.percentileMillis(99.9), tasks / Math.max(span, 1e-3), tasks, span, perTask,
        tasks == 0 ? Double.NaN : (double) machine / tasks));
    List<Map.Entry<String, Long>> rows = new ArrayList<>(spent.entrySet());
    rows.sort(Map.Entry.<String, Long>comparingByValue().reversed());
    List<String> parts = new ArrayList<>();
    for (Map.Entry<String, Long> e : rows) {
      if (tasks > 0 && e.getValue() * 200 >= total) parts.add(String.format("%s %,.0f", e.getKey(), (double) e.getValue() / tasks));
    }
    report.accept("topology: " + name + ", CPU µs per task by process", String.join(", ", parts) + " (each ≥ 0.5 % of the total)");
    return r;
  }

  /** CPU microseconds of up's processes, grouped by component; a PostgreSQL node split by process kind (backends, walsender, ...). */
  private Map<String, Long> cpu(Process up) throws IOException {
    Map<Long, String> owner = Footprint.owners(up.toHandle(), dataDir);
    return ProcessCpu.byGroup(up.toHandle(), pid -> {
      String component = owner.get(pid);
      return component != null && postgresNodes.contains(component) ? component + " " + ProcessCpu.postgresKind(pid) : component;
    });
  }

  private void awaitDrained(Database db, Instant from, Process up) throws Exception {
    Footprint.await("the queue to drain", Duration.ofMinutes(5), () -> ofRunTasks(db, from, "count(*)", "state <> 'succeeded'")[0] == 0, up);
  }

  /** {@code SELECT columns} over the bench tenant's tasks created since {@code from} that match {@code where}: one row, as numbers. */
  private static double[] ofRunTasks(Database db, Instant from, String columns, String where) throws Exception {
    try (Connection c = db.dataSource().getConnection(); PreparedStatement st = c.prepareStatement(
        "SELECT " + columns + " FROM tasks WHERE tenant = ? AND created_at >= ? AND " + where)) {
      st.setString(1, TENANT);
      st.setTimestamp(2, Timestamp.from(from));
      try (ResultSet rs = st.executeQuery()) {
        rs.next();
        double[] out = new double[rs.getMetaData().getColumnCount()];
        for (int i = 0; i < out.length; i++) out[i] = rs.getDouble(i + 1);
        return out;
      }
    }
  }

  private JsonNode components() throws IOException {
    return JSON.readTree(dataDir.resolve("run").resolve("components.json").toFile());
  }

  private int primaryPort() throws IOException {
    for (JsonNode c : components()) {
      if (c.path("role").asText().equals("pg-primary")) return c.path("port").asInt();
    }
    throw new BulwarkException("`bulwark up` lists no pg-primary in " + dataDir.resolve("run").resolve("components.json"));
  }

  /** Busy time of every CPU of the machine (all but idle and iowait), from /proc/stat, in microseconds. */
  static long machineBusyMicros() {
    try {
      String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
      long busy = 0;
      for (int i = 1; i < f.length && i <= 8; i++) if (i != 4 && i != 5) busy += Long.parseLong(f[i]);
      return busy * 1_000_000 / ProcessCpu.TICKS_PER_SECOND;
    } catch (IOException | RuntimeException e) {
      return 0;
    }
  }

  private static String fmt(double s) {
    return s == Math.rint(s) ? Long.toString((long) s) : Double.toString(s);
  }
}
