package io.bulwark.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.bulwark.monitor.CheckResult;
import io.bulwark.monitor.CheckSource;
import io.bulwark.monitor.Groups;
import io.bulwark.monitor.MonitorPolicy;
import io.bulwark.monitor.Observation;
import io.bulwark.monitor.Status;
import io.bulwark.node.DataDir;
import io.bulwark.node.DbStatus;
import io.bulwark.node.Health;
import io.bulwark.node.Ports;
import io.bulwark.node.StorageLayout;
import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The checks of a one-machine deployment, each a function of what `up` publishes in its data
 * directory (component table, database, storage and DNS status) and of probes it can make from here,
 * with Nagios's result model: OK, WARNING, CRITICAL, UNKNOWN, one line, performance data. Run one with
 * `bulwark check NAME` (the Nagios plugin API), or let Nagios run them all (`bulwark nagios-config`).
 */
final class Checks {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Thresholds as given on the command line (null when not given: the check's default applies). */
  record Thresholds(Double warning, Double critical) {
    double warning(double fallback) {
      return warning == null ? fallback : warning;
    }

    double critical(double fallback) {
      return critical == null ? fallback : critical;
    }
  }

  /** One check: what it looks at and its default thresholds, for --help and the Nagios configuration. */
  record Check(String name, String description, boolean perComponent, Probe probe) {}

  @FunctionalInterface
  interface Probe {
    CheckResult run(DataDir dir, String component, Thresholds t) throws Exception;
  }

  static final Map<String, Check> ALL = new LinkedHashMap<>();

  static {
    add(new Check("component", "one component (--component NAME) runs and answers its health check; CRITICAL when not", true,
        Checks::component));
    add(new Check("database", "the PostgreSQL primary accepts connections; CRITICAL when there is none", false, Checks::database));
    add(new Check("failover", "a synchronous standby is caught up, so a failover loses nothing; WARNING when not (RPO no longer 0)", false,
        Checks::failover));
    add(new Check("archive", "WAL segments waiting to be archived (warning 10, critical 50) and the archiver's last error", false,
        Checks::archive));
    add(new Check("backup-age", "hours since the newest base backup finished (warning 26, critical 50)", false, Checks::backupAge));
    add(new Check("workers", "worker processes alive of those configured; WARNING when some are down, CRITICAL when none", false,
        Checks::workers));
    add(new Check("crash-loop", "components restarted 3 times or more and up for less than 60 s; CRITICAL when any", false,
        Checks::crashLoop));
    add(new Check("disk", "free space of the data directory's file system, percent (warning 20, critical 10)", false, Checks::disk));
    add(new Check("queue", "age of the oldest ready task, s, from an API server's metrics (warning 60, critical 300); perfdata ready tasks",
        false, Checks::queue));
    add(new Check("backends", "API servers the gateway routes to; WARNING when some are out of service, CRITICAL when none", false,
        Checks::backends));
    add(new Check("verification", "the last restore test of the newest backup; CRITICAL when it failed, WARNING when older than 50 h",
        false, Checks::verification));
    add(new Check("restore-window", "a point-in-time restore is possible (a base backup and its WAL in the archive); WARNING when not", false,
        Checks::restoreWindow));
    add(new Check("storage-lag", "age of the oldest blob copy owed to the other storage region, s (warning 30, critical 300)", false,
        Checks::storageLag));
  }

  private static void add(Check c) {
    ALL.put(c.name(), c);
  }

  private Checks() {}

  static CheckResult run(String name, DataDir dir, String component, Thresholds t) {
    Check c = ALL.get(name);
    if (c == null) return CheckResult.of(Status.UNKNOWN, "no check '" + name + "'; the checks are " + String.join(", ", ALL.keySet()));
    if (c.perComponent() && (component == null || component.isBlank())) {
      return CheckResult.of(Status.UNKNOWN, "the " + name + " check needs --component NAME");
    }
    try {
      return c.probe().run(dir, component, t);
    } catch (Exception e) {
      return CheckResult.of(Status.UNKNOWN, "cannot tell: " + e.getMessage());
    }
  }

  // ------------------------------------------------------------------ the built-in monitor's view

  /**
   * Every check of this deployment as the built-in monitor runs them, each with its root-cause group
   * and the checks it depends on (Nagios's service dependencies): a database node's process is part
   * of the database; API servers, gateways and workers depend on the database, so a dead primary is
   * one incident; workers form one group (a dead worker and "2 of 3 workers alive" are the same
   * thing). Not run by the monitor: {@code crash-loop} (its flap detection sees a component that
   * keeps dying) and {@code workers} (the worker components are checked one by one). The probes run
   * in parallel, each bounded in time, so one hung component delays nothing.
   */
  static CheckSource source(DataDir dir, MonitorPolicy policy) {
    return () -> observations(dir, policy);
  }

  static List<Observation> observations(DataDir dir, MonitorPolicy policy) {
    record Probe(String check, String group, List<String> parents, java.util.concurrent.Callable<CheckResult> run) {}
    List<Probe> probes = new ArrayList<>();
    List<String> db = List.of("database");
    try {
      for (JsonNode c : components(dir)) {
        String name = c.path("name").asText();
        String role = c.path("role").asText();
        if (role.equals("monitor")) continue;
        probes.add(new Probe("component:" + name, Groups.ofComponent(role, name), role.startsWith("pg-") ? List.of() : db,
            () -> run("component", dir, name, thresholds(policy, "component"))));
      }
    } catch (IOException e) {
      probes.add(new Probe("components", "components", List.of(), () -> CheckResult.of(Status.UNKNOWN, e.getMessage())));
    }
    probes.add(new Probe("database", Groups.DATABASE, List.of(), () -> run("database", dir, null, thresholds(policy, "database"))));
    probes.add(new Probe("failover", Groups.DATABASE, db, () -> run("failover", dir, null, thresholds(policy, "failover"))));
    probes.add(new Probe("archive", Groups.ARCHIVE, db, () -> run("archive", dir, null, thresholds(policy, "archive"))));
    probes.add(new Probe("backup-age", Groups.ARCHIVE, db, () -> run("backup-age", dir, null, thresholds(policy, "backup-age"))));
    List<String> dbAndApis = new ArrayList<>(db);
    probes.stream().filter(p -> p.check().startsWith("component:api")).forEach(p -> dbAndApis.add(p.check()));
    probes.add(new Probe("queue", "queue", db, () -> run("queue", dir, null, thresholds(policy, "queue"))));
    probes.add(new Probe("backends", Groups.component("gateway"), dbAndApis, () -> run("backends", dir, null, thresholds(policy, "backends"))));
    probes.add(new Probe("verification", Groups.ARCHIVE, db, () -> run("verification", dir, null, thresholds(policy, "verification"))));
    probes.add(new Probe("restore-window", Groups.ARCHIVE, db, () -> run("restore-window", dir, null, thresholds(policy, "restore-window"))));
    probes.add(new Probe("disk", Groups.DISK, List.of(), () -> run("disk", dir, null, thresholds(policy, "disk"))));
    probes.add(new Probe("storage-lag", Groups.STORAGE, List.of(), () -> run("storage-lag", dir, null, thresholds(policy, "storage-lag"))));
    List<Observation> out = new ArrayList<>();
    // not closed (close() would wait for a hung probe): shut down, and a hung probe's virtual thread is abandoned
    var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor();
    try {
      List<java.util.concurrent.Future<CheckResult>> running = new ArrayList<>();
      for (Probe p : probes) running.add(pool.submit(p.run()));
      long deadline = System.nanoTime() + PROBE_TIMEOUT.toNanos();
      for (int i = 0; i < probes.size(); i++) {
        Probe p = probes.get(i);
        CheckResult r;
        try {
          r = running.get(i).get(Math.max(1, deadline - System.nanoTime()), java.util.concurrent.TimeUnit.NANOSECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
          running.get(i).cancel(true);
          r = CheckResult.of(Status.UNKNOWN, "the check did not answer within " + PROBE_TIMEOUT.toSeconds() + " s");
        } catch (java.util.concurrent.ExecutionException e) {
          r = CheckResult.of(Status.UNKNOWN, "cannot tell: " + e.getCause());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          break;
        }
        out.add(new Observation(p.check(), p.group(), p.parents(), r));
      }
    } finally {
      pool.shutdownNow();
    }
    return out;
  }

  /** How long one round of the monitor's probes may take. */
  static final Duration PROBE_TIMEOUT = Duration.ofSeconds(3);

  private static Thresholds thresholds(MonitorPolicy policy, String check) {
    MonitorPolicy.Threshold t = policy.threshold(check);
    return new Thresholds(t.warning(), t.critical());
  }

  // ------------------------------------------------------------------ the checks

  private static List<JsonNode> components(DataDir dir) throws IOException {
    if (!Files.exists(dir.componentsFile())) throw new IOException("nothing runs on " + dir.root() + " (no " + dir.componentsFile() + ")");
    List<JsonNode> rows = new ArrayList<>();
    JSON.readTree(dir.componentsFile().toFile()).forEach(rows::add);
    return rows;
  }

  /** Whether the process a component-table row names is alive. */
  static boolean alive(JsonNode c) {
    long pid = c.path("pid").asLong(-1);
    return pid > 0 && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
  }

  private static boolean healthy(JsonNode c) {
    return StatusCommand.healthy(c);
  }

  static CheckResult component(DataDir dir, String name, Thresholds t) throws IOException {
    for (JsonNode c : components(dir)) {
      if (!c.path("name").asText().equals(name)) continue;
      int restarts = c.path("restarts").asInt();
      String perf = "restarts=" + restarts + ";;;0";
      if (!alive(c)) return CheckResult.of(Status.CRITICAL, name + " is not running (restarts " + restarts + ")", perf);
      if (!healthy(c)) return CheckResult.of(Status.CRITICAL, name + " runs (pid " + c.path("pid").asLong() + ") but fails its health check", perf);
      return CheckResult.of(Status.OK, name + " healthy (pid " + c.path("pid").asLong() + ", restarts " + restarts + ")", perf);
    }
    return CheckResult.of(Status.UNKNOWN, "no component " + name + " on " + dir.root());
  }

  private static JsonNode dbStatus(DataDir dir) throws IOException {
    Path f = dir.run().resolve(DbStatus.FILE);
    if (!Files.exists(f)) throw new IOException("no database status on " + dir.root() + " (is `bulwark up` running?)");
    return fresh(f, DbStatus.JSON.readTree(f.toFile()));
  }

  /** A status file `up` rewrites every second; one not rewritten for 10 s says nothing about now. */
  private static JsonNode fresh(Path f, JsonNode status) throws IOException {
    JsonNode at = status.path("updatedAt");
    if (at.isTextual() && Duration.between(Instant.parse(at.asText()), Instant.now()).toSeconds() > 10) {
      throw new IOException(f + " was last written at " + at.asText() + ": the supervisor that publishes it is stuck or gone");
    }
    return status;
  }

  static CheckResult database(DataDir dir, String unused, Thresholds t) throws IOException {
    JsonNode cluster = dbStatus(dir).path("cluster");
    String primary = cluster.path("primary").asText("");
    for (JsonNode n : cluster.path("nodes")) {
      if (n.path("name").asText().equals(primary)) {
        int port = n.path("port").asInt();
        if (Ports.accepts(port, 1000)) return CheckResult.of(Status.OK, "primary " + primary + " accepts connections on port " + port);
        return CheckResult.of(Status.CRITICAL, "primary " + primary + " does not accept connections on port " + port);
      }
    }
    return CheckResult.of(Status.CRITICAL, "no primary" + (primary.isEmpty() ? "" : " (" + primary + " is not among the nodes)"));
  }

  static CheckResult failover(DataDir dir, String unused, Thresholds t) throws IOException {
    JsonNode cluster = dbStatus(dir).path("cluster");
    if (cluster.path("nodes").size() < 2) return CheckResult.of(Status.OK, "one database node (--no-standby): nothing to fail over to");
    String lag = "lag_bytes=" + cluster.path("lagBytes").asLong(0) + "B;;;0";
    if (cluster.path("standbyEligible").asBoolean()) {
      return CheckResult.of(Status.OK, "standby " + cluster.path("standby").asText() + " is synchronous and caught up", lag);
    }
    return CheckResult.of(Status.WARNING, "running without a synchronous standby (" + cluster.path("standbyState").asText("no standby")
        + "): RPO is no longer 0 and a primary failure is not failed over", lag);
  }

  static CheckResult archive(DataDir dir, String unused, Thresholds t) throws IOException {
    JsonNode a = dbStatus(dir).path("backups").path("archiving");
    if (a.isMissingNode()) return CheckResult.of(Status.UNKNOWN, "no archiving status yet");
    int pending = a.path("pending").asInt();
    double w = t.warning(10);
    double c = t.critical(50);
    String perf = "pending=" + pending + ";" + fmt(w) + ";" + fmt(c) + ";0";
    String error = a.path("lastError").isTextual() ? "; last error: " + a.path("lastError").asText() : "";
    if (pending >= c) return CheckResult.of(Status.CRITICAL, pending + " WAL segments wait to be archived" + error, perf);
    if (pending >= w || !error.isEmpty()) return CheckResult.of(Status.WARNING, pending + " WAL segments wait to be archived" + error, perf);
    return CheckResult.of(Status.OK, pending + " WAL segments wait to be archived; last " + a.path("lastArchived").asText("none yet"), perf);
  }

  static CheckResult backupAge(DataDir dir, String unused, Thresholds t) throws IOException {
    JsonNode b = dbStatus(dir).path("backups");
    if (!b.path("newestBackupAt").isTextual()) {
      return CheckResult.of(Status.WARNING, "no base backup yet (the first one is taken at the first start)");
    }
    double hours = Duration.between(Instant.parse(b.path("newestBackupAt").asText()), Instant.now()).toSeconds() / 3600.0;
    double w = t.warning(26);
    double c = t.critical(50);
    String perf = "age=" + String.format(Locale.ROOT, "%.2f", hours) + "h;" + fmt(w) + ";" + fmt(c) + ";0";
    String msg = String.format(Locale.ROOT, "newest base backup %s, %.1f h old", b.path("newestBackup").asText(), hours);
    return CheckResult.of(hours >= c ? Status.CRITICAL : hours >= w ? Status.WARNING : Status.OK, msg, perf);
  }

  static CheckResult workers(DataDir dir, String unused, Thresholds t) throws IOException {
    int total = 0;
    int alive = 0;
    for (JsonNode c : components(dir)) {
      if (!c.path("role").asText().equals("worker")) continue;
      total++;
      if (alive(c) && healthy(c)) alive++;
    }
    String perf = "workers=" + alive + ";;;0;" + total;
    if (total == 0) return CheckResult.of(Status.OK, "no workers configured", perf);
    if (alive == 0) return CheckResult.of(Status.CRITICAL, "no worker of " + total + " is alive: tasks are not run", perf);
    if (alive < total) return CheckResult.of(Status.WARNING, alive + " of " + total + " workers alive", perf);
    return CheckResult.of(Status.OK, "all " + total + " workers alive", perf);
  }

  static CheckResult crashLoop(DataDir dir, String unused, Thresholds t) throws IOException {
    List<String> looping = new ArrayList<>();
    for (JsonNode c : components(dir)) {
      int restarts = c.path("restarts").asInt();
      Instant started = c.path("startedAt").isTextual() ? Instant.parse(c.path("startedAt").asText()) : null;
      if (restarts >= 3 && (started == null || Duration.between(started, Instant.now()).toSeconds() < 60 || !alive(c))) {
        looping.add(c.path("name").asText() + " (" + restarts + " restarts)");
      }
    }
    if (looping.isEmpty()) return CheckResult.of(Status.OK, "no component restarting in a loop");
    return CheckResult.of(Status.CRITICAL, "restarting in a loop: " + String.join(", ", looping) + "; read their logs in " + dir.logs());
  }

  static CheckResult disk(DataDir dir, String unused, Thresholds t) throws IOException {
    FileStore fs = Files.getFileStore(dir.root());
    double free = 100.0 * fs.getUsableSpace() / fs.getTotalSpace();
    double w = t.warning(20);
    double c = t.critical(10);
    String perf = "free=" + String.format(Locale.ROOT, "%.1f", free) + "%;" + fmt(w) + ";" + fmt(c) + ";0;100";
    String msg = String.format(Locale.ROOT, "%.1f%% free on the file system of %s (%d MB)", free, dir.root(), fs.getUsableSpace() / 1_000_000);
    return CheckResult.of(free <= c ? Status.CRITICAL : free <= w ? Status.WARNING : Status.OK, msg, perf);
  }

  static CheckResult queue(DataDir dir, String unused, Thresholds t) throws IOException {
    IOException last = null;
    for (JsonNode c : components(dir)) {
      if (!c.path("role").asText().equals("api") || !alive(c)) continue;
      try {
        Map<String, Double> m = scrape(c.path("healthHost").asText("127.0.0.1"), c.path("port").asInt(), "queue_ready_tasks",
            "queue_oldest_ready_age_seconds");
        double age = m.getOrDefault("queue_oldest_ready_age_seconds", 0.0);
        long ready = Math.round(m.getOrDefault("queue_ready_tasks", 0.0));
        double w = t.warning(60);
        double cr = t.critical(300);
        String perf = "oldest=" + String.format(Locale.ROOT, "%.1f", age) + "s;" + fmt(w) + ";" + fmt(cr) + ";0 ready=" + ready + ";;;0";
        String msg = String.format(Locale.ROOT, "%d tasks ready, the oldest waiting %.1f s (from %s)", ready, age, c.path("name").asText());
        return CheckResult.of(age >= cr ? Status.CRITICAL : age >= w ? Status.WARNING : Status.OK, msg, perf);
      } catch (IOException e) {
        last = e;
      }
    }
    return CheckResult.of(Status.UNKNOWN, "no API server answered with the queue's metrics" + (last == null ? "" : " (" + last.getMessage() + ")"));
  }

  /** Reads the named gauges from a Prometheus text endpoint. */
  static Map<String, Double> scrape(String host, int port, String... names) throws IOException {
    String body = Health.httpGet(host, port, "/metrics");
    try {
      Map<String, Double> out = new LinkedHashMap<>();
      List<String> wanted = List.of(names);
      for (String line : body.split("\n")) {
        if (line.startsWith("#")) continue;
        int sp = line.lastIndexOf(' ');
        if (sp < 0) continue;
        String name = line.substring(0, sp);
        if (wanted.contains(name)) out.put(name, Double.parseDouble(line.substring(sp + 1)));
      }
      return out;
    } catch (NumberFormatException e) {
      throw new IOException("unreadable metrics: " + e.getMessage(), e);
    }
  }

  static CheckResult backends(DataDir dir, String unused, Thresholds t) throws IOException {
    int total = 0;
    int usable = 0;
    List<String> out = new ArrayList<>();
    boolean any = false;
    for (JsonNode c : components(dir)) {
      if (!c.path("role").asText().equals("gateway") || c.path("adminPort").asInt() <= 0 || !alive(c)) continue;
      any = true;
      JsonNode servers = JSON.readTree(Health.httpGet("127.0.0.1", c.path("adminPort").asInt(), "/servers"));
      for (JsonNode srv : servers) {
        if (!srv.path("state").asText().equals("ready")) continue; // drained or in maintenance on purpose
        total++;
        if (srv.path("usable").asBoolean()) usable++;
        else out.add(c.path("name").asText() + "→" + srv.path("name").asText() + " (" + srv.path("health").asText() + ")");
      }
    }
    if (!any) return CheckResult.of(Status.OK, "no built-in gateway with an admin API here (HAProxy: see its stats socket)");
    String perf = "usable=" + usable + ";;;0;" + total;
    if (total > 0 && usable == 0) return CheckResult.of(Status.CRITICAL, "no API server in service behind the gateway: " + String.join(", ", out), perf);
    if (usable < total) return CheckResult.of(Status.WARNING, usable + " of " + total + " API servers in service; out: " + String.join(", ", out), perf);
    return CheckResult.of(Status.OK, "all " + total + " API servers in service", perf);
  }

  static CheckResult verification(DataDir dir, String unused, Thresholds t) throws IOException {
    JsonNode v = dbStatus(dir).path("backups").path("lastVerification");
    if (!v.isObject()) return CheckResult.of(Status.OK, "no restore test yet (the first runs within --verify-interval of the first backup)");
    double hours = Duration.between(Instant.parse(v.path("at").asText()), Instant.now()).toSeconds() / 3600.0;
    String perf = "age=" + String.format(Locale.ROOT, "%.2f", hours) + "h;" + fmt(t.warning(50)) + ";" + fmt(t.critical(100)) + ";0";
    if (!v.path("ok").asBoolean()) {
      return CheckResult.of(Status.CRITICAL, "the last restore test of backup " + v.path("backup").asText() + " FAILED: " + v.path("error").asText(), perf);
    }
    String msg = String.format(Locale.ROOT, "backup %s restored and checked %.1f h ago", v.path("backup").asText(), hours);
    return CheckResult.of(hours >= t.critical(100) ? Status.CRITICAL : hours >= t.warning(50) ? Status.WARNING : Status.OK, msg, perf);
  }

  static CheckResult restoreWindow(DataDir dir, String unused, Thresholds t) throws IOException {
    JsonNode w = dbStatus(dir).path("backups").path("window");
    if (!w.isObject()) return CheckResult.of(Status.WARNING, "nothing restorable yet (no base backup with its WAL in the archive)");
    // the window ends at the newest archived WAL: an idle database writes none, so its age alone is no alarm (the archive check
    // watches WAL waiting to be archived)
    Duration span = Duration.between(Instant.parse(w.path("from").asText()), Instant.parse(w.path("to").asText()));
    return CheckResult.of(Status.OK, "restorable to any moment from " + w.path("from").asText() + " to " + w.path("to").asText(),
        "span=" + span.toSeconds() + "s;;;0");
  }

  static CheckResult storageLag(DataDir dir, String unused, Thresholds t) throws IOException {
    Path f = dir.run().resolve(StorageLayout.STATUS_FILE);
    if (!Files.exists(f)) return CheckResult.of(Status.OK, "one storage region: nothing to replicate");
    JsonNode s = fresh(f, JSON.readTree(f.toFile()));
    double lag = s.path("lagSeconds").asDouble();
    double w = t.warning(30);
    double c = t.critical(300);
    String perf = "lag=" + lag + "s;" + fmt(w) + ";" + fmt(c) + ";0 pending=" + s.path("pending").asInt() + ";;;0";
    String msg = String.format(Locale.ROOT, "writes go to region %s; %d copies owed, the oldest %.1f s old", s.path("active").asText(),
        s.path("pending").asInt(), lag);
    return CheckResult.of(lag >= c ? Status.CRITICAL : lag >= w ? Status.WARNING : Status.OK, msg, perf);
  }

  private static String fmt(double v) {
    return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
  }
}
