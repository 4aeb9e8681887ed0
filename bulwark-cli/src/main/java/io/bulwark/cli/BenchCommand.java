package io.bulwark.cli;

import io.bulwark.cli.bench.Footprint;
import io.bulwark.cli.bench.HostileBench;
import io.bulwark.cli.bench.HttpConnection;
import io.bulwark.cli.bench.HttpLoad;
import io.bulwark.cli.bench.LoadResult;
import io.bulwark.core.BulwarkException;
import io.bulwark.core.task.TaskIds;
import io.bulwark.node.Balancer;
import io.bulwark.node.Component;
import io.bulwark.node.DataDir;
import io.bulwark.node.HaproxyConfig;
import io.bulwark.node.HaproxyRuntime;
import io.bulwark.node.LocalDeployment;
import io.bulwark.node.Ports;
import io.bulwark.postgres.Database;
import io.bulwark.postgres.NewTask;
import io.bulwark.postgres.TaskRepository;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "bench", mixinStandardHelpOptions = true,
    description = {"Measure throughput and latency on this machine.",
        "",
        "Starts a private local deployment (durable PostgreSQL, API and worker processes with -Xmx256m, exactly",
        "as `up` does) in a scratch data directory, runs the scenarios, prints each figure with its method,",
        "and stops everything.",
        "Scenarios: burndown, http, batch, e2e, latency, gateway (default: all); blobs (only when named: the blob stores",
        "side by side, file system, one Azurite region, two replicated, and the replication lag; needs Azurite);",
        "hostile (only when named: a victim tenant's submits through the gateway, alone and during each attack of",
        "a hostile client or tenant; its errors, p99 and lost tasks, and how the attacker was answered);",
        "topology (only when named: `bulwark up` as users run it, started through the launcher, a tenant submitting",
        "through its gateway while its workers drain the queue: submits/s, p50/p99/p99.9, tasks/s end to end, and CPU",
        "µs per task of each of its processes, at the maximum rate, half of it, and 4 connections)."})
final class BenchCommand implements Callable<Integer> {
  @Option(names = "--only", split = ",", description = "Scenarios to run (default: all)")
  Set<String> only = Set.of("footprint", "burndown", "http", "batch", "e2e", "latency", "gateway");

  /** Scenarios that start what they measure themselves, without the bench's own deployment. */
  private static final Set<String> STANDALONE = Set.of("footprint", "blobs", "topology");

  @Option(names = "--topology-seconds", defaultValue = "60",
      description = "Length of the topology scenario's maximum-rate run; its half-rate and low-load runs take half (default: ${DEFAULT-VALUE})")
  double topologySeconds;

  @Option(names = "--topology-rate", defaultValue = "0",
      description = "Rate of the topology scenario's open-loop run (default: half the maximum it measured; fix it to compare commits at the same load)")
  double topologyRate;

  @Option(names = "--launcher", paramLabel = "FILE",
      description = {"The `bulwark` launcher the footprint and topology scenarios start `up` with (default: this one);",
          "another checkout's, to measure another commit with this bench"})
  Path launcherOption;

  @Option(names = "--tasks", defaultValue = "200000", description = "Tasks in the burn-down (default: ${DEFAULT-VALUE})")
  int tasks;

  @Option(names = "--tenants", defaultValue = "1", description = "Tenants the burn-down's tasks are spread over, round robin (default: ${DEFAULT-VALUE}; workers claim fairly across them)")
  int tenants;

  @Option(names = "--seconds", defaultValue = "15", description = "Length of each HTTP load run (default: ${DEFAULT-VALUE})")
  int seconds;

  @Option(names = "--connections", defaultValue = "64", description = "Keep-alive connections for closed-loop HTTP load (default: ${DEFAULT-VALUE})")
  int connections;

  @Option(names = "--latency-rate", defaultValue = "4000", description = "Fixed request rate for the latency run (default: ${DEFAULT-VALUE}/s)")
  int latencyRate;

  @Option(names = "--e2e-rate", defaultValue = "5000", description = "Submit rate of the end-to-end run (default: ${DEFAULT-VALUE}/s)")
  int e2eRate;

  @Option(names = "--e2e-seconds", defaultValue = "60", description = "Length of the end-to-end run (default: ${DEFAULT-VALUE})")
  int e2eSeconds;

  @Option(names = "--hostile-seconds", defaultValue = "10", description = "Length of each victim run of the hostile suite (default: ${DEFAULT-VALUE})")
  double hostileSeconds;

  @Option(names = "--attacks", split = ",", paramLabel = "NAME",
      description = "Only these attacks of the hostile suite: declared-length, huge-json, long-polls, bad-run-at, big-binaries, priority-flood (default: all)")
  Set<String> attacks = Set.of();

  @Option(names = "--hostile-rate", defaultValue = "200", description = "The victim's submit rate in the hostile suite (default: ${DEFAULT-VALUE}/s)")
  double hostileRate;

  @Option(names = "--workers", defaultValue = "2", description = "Worker processes (default: ${DEFAULT-VALUE})")
  int workers;

  @Option(names = "--worker-concurrency", defaultValue = "512", description = "Concurrency of each worker (default: ${DEFAULT-VALUE})")
  int workerConcurrency;

  @Option(names = "--standby", description = {"Run PostgreSQL as `up` does by default: primary + synchronous hot standby",
      "(default: one node, as the core-platform figures were taken)"})
  boolean standby;

  @Option(names = "--archive-lag", defaultValue = "3s", paramLabel = "DURATION",
      description = "As `up --archive-lag` (default: ${DEFAULT-VALUE})")
  String archiveLag;

  @Option(names = "--data-dir", paramLabel = "DIR", description = "Scratch data directory (default: a new temporary one, deleted after)")
  Path dataDir;

  private final Map<String, Long> maxHeap = new ConcurrentHashMap<>();
  private final Map<String, String> results = new LinkedHashMap<>();

  @Override
  public Integer call() throws Exception {
    Path root = dataDir != null ? dataDir : Files.createTempDirectory("bulwark-bench");
    if (only.contains("footprint")) footprint(root);
    if (only.contains("topology")) {
      new io.bulwark.cli.bench.TopologyBench(launcher("topology"), root.resolve("topology"), Ports.free(), connections, topologySeconds,
          topologyRate, this::report).run();
    }
    if (only.contains("blobs")) new io.bulwark.cli.bench.BlobBench(root, Duration.ofSeconds(seconds)).run();
    if (STANDALONE.containsAll(only)) {
      if (dataDir == null) deleteTree(root);
      printResults();
      return 0;
    }
    int port = Ports.free();
    LocalDeployment.Options opts = LocalDeployment.Options.defaults().withPort(port).withWorkers(0).withStandby(standby)
        .withBackups(new io.bulwark.dr.BackupService.Config(DurationConverter.parse("--archive-lag", archiveLag),
            io.bulwark.dr.BackupService.Config.DEFAULT_BACKUP_INTERVAL, io.bulwark.dr.BackupService.Config.DEFAULT_RETENTION,
            io.bulwark.dr.BackupService.Config.DEFAULT_VERIFY_INTERVAL))
        .withWorkerArgs("--concurrency", Integer.toString(workerConcurrency), "--claim-batch", Integer.toString(workerConcurrency));
    System.out.printf("bench: %d cores, data %s, PostgreSQL durable (fsync, synchronous_commit, full_page_writes on)%s%n",
        Runtime.getRuntime().availableProcessors(), root, standby ? ", primary + synchronous hot standby" : ", one node");
    try (LocalDeployment d = new LocalDeployment(new DataDir(root), opts)) {
      Thread stopOnSignal = Thread.ofPlatform().unstarted(d::close);
      Runtime.getRuntime().addShutdownHook(stopOnSignal);
      d.start();
      if (standby) {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (!d.controller().status().standbyEligible()) {
          if (System.nanoTime() > deadline) throw new BulwarkException("the standby did not become synchronous within 2 minutes");
          LocalDeployment.pause(100);
        }
        System.out.println("bench: the standby is synchronous: every commit below waits for its flush");
      }
      settleBackups(d);
      Thread sampler = Thread.ofPlatform().daemon().name("heap-sampler").start(() -> sampleHeap(d));
      try (Database db = d.openDatabase("bench", 4)) {
        verifyDurable(db);
        if (only.contains("burndown")) burndown(d, db);
        if (only.contains("http")) httpSubmit(d, db);
        if (only.contains("batch")) batchSubmit(d, db);
        if (only.contains("latency")) latency(d, db);
        if (only.contains("e2e")) endToEnd(d, db);
        if (only.contains("gateway")) gatewayOverhead(d, db, root);
        if (only.contains("hostile")) hostile(d, db, port);
      } finally {
        sampler.interrupt();
      }
      maxHeap.forEach((name, bytes) -> results.put("max heap used: " + name, String.format("%.0f MiB (limit -Xmx256m)", bytes / 1048576.0)));
      int restarts = d.supervisor().components().stream().mapToInt(c -> c.restarts).sum();
      results.put("component restarts during bench", Integer.toString(restarts));
    } finally {
      if (dataDir == null) deleteTree(root);
    }
    printResults();
    return 0;
  }

  private void printResults() {
    System.out.println();
    System.out.println("| measure | result |");
    System.out.println("|---|---|");
    results.forEach((k, v) -> System.out.println("| " + k + " | " + v + " |"));
  }

  // ---------------------------------------------------------------- footprint

  /**
   * The idle footprint of `bulwark up` as users run it (through the launcher, which sets the
   * supervisor's JVM flags): resident memory of every process, by component. Runs before, and apart
   * from, the deployment the other scenarios use.
   */
  /** The `bulwark` launcher, for scenarios that run `bulwark up` exactly as users do. */
  private Path launcher(String scenario) {
    if (launcherOption != null) {
      if (!Files.isExecutable(launcherOption)) throw new BulwarkException("--launcher " + launcherOption + " is not an executable file");
      return launcherOption.toAbsolutePath();
    }
    String launcher = System.getenv("BULWARK_LAUNCHER");
    if (launcher == null || !Files.isExecutable(Path.of(launcher))) {
      throw new BulwarkException("the " + scenario + " scenario runs `bulwark up` through the launcher: run the bench as ./bulwark bench");
    }
    return Path.of(launcher);
  }

  private void footprint(Path root) throws Exception {
    System.out.println("bench: footprint: `bulwark up` idle for 20 s after the standby is synchronous");
    List<Footprint.Row> rows = Footprint.measure(launcher("footprint"), root.resolve("footprint"), Ports.free(), Duration.ofSeconds(20));
    long rss = 0;
    long pss = 0;
    for (Footprint.Row r : rows) {
      results.put("idle footprint: " + r.component(), String.format("PSS %.0f MiB, RSS %.0f MiB (%d process%s)",
          r.pssKib() / 1024.0, r.rssKib() / 1024.0, r.processes(), r.processes() == 1 ? "" : "es"));
      rss += r.rssKib();
      pss += r.pssKib();
    }
    results.put("idle footprint of `up`, all processes", String.format("PSS %.0f MiB (shared pages counted once), RSS sum %.0f MiB",
        pss / 1024.0, rss / 1024.0));
  }

  // ---------------------------------------------------------------- scenarios

  private void burndown(LocalDeployment d, Database db) throws Exception {
    if (tenants < 1) throw new BulwarkException("--tenants must be at least 1, got " + tenants);
    section("queue burn-down: insert " + tasks + " noop tasks of " + tenants + " tenant(s) in batches of 1000, then process them with "
        + workers + " worker(s)");
    reset(d, db);
    TaskRepository repo = new TaskRepository(db);
    long t0 = System.nanoTime();
    for (int done = 0; done < tasks; done += 1000) {
      List<NewTask> batch = new ArrayList<>(1000);
      for (int i = 0; i < Math.min(1000, tasks - done); i++) {
        String tenant = tenants == 1 ? "bench" : "bench-" + (done + i) % tenants;
        batch.add(new NewTask(TaskIds.newId(), tenant, "noop", 0, 5, 60, null, "null", null, null, null, null));
      }
      repo.submit(batch, true);
    }
    double insertSeconds = (System.nanoTime() - t0) / 1e9;
    report("burn-down insert (repository, 1000/transaction)", String.format("%,.0f tasks/s", tasks / insertSeconds));
    vacuum(db);
    d.addWorkers(workers);
    awaitCount(db, "state = 'succeeded'", tasks, Duration.ofMinutes(10));
    double span = scalar(db, "SELECT extract(epoch FROM max(finished_at) - min(started_at)) FROM tasks");
    report("burn-down processing (" + tasks + " noop of " + tenants + " tenant(s), first start to last finish, DB clock)",
        String.format("%,.0f tasks/s (%.1f s)", tasks / span, span));
  }

  private void httpSubmit(LocalDeployment d, Database db) throws Exception {
    section("HTTP submit: POST /v1/tasks, one task per request, keep-alive, auth + Idempotency-Key + usage");
    reset(d, db);
    HttpLoad load = new HttpLoad("127.0.0.1", d.api().port);
    String key = d.adminKey();
    byte[] body = "{\"type\":\"noop\",\"input\":null}".getBytes(StandardCharsets.UTF_8);
    String run = Long.toHexString(System.nanoTime());
    load.closedLoop(16, 3, n -> HttpConnection.request("POST", "/v1/tasks", key, "Idempotency-Key: w" + run + n + "\r\n", body));
    LoadResult max = load.closedLoop(connections, seconds,
        n -> HttpConnection.request("POST", "/v1/tasks", key, "Idempotency-Key: m" + run + n + "\r\n", body));
    report("HTTP submit, max throughput (" + connections + " connections, closed loop, " + seconds + " s)", max.summary());
    Map<Double, Long> before = serverBuckets(d, "tasks.submit");
    LoadResult fixed = load.openLoop(connections, seconds, latencyRate,
        n -> HttpConnection.request("POST", "/v1/tasks", key, "Idempotency-Key: f" + run + n + "\r\n", body));
    report("HTTP submit at fixed " + latencyRate + " req/s (open loop, latency from due time)", fixed.summary());
    report("HTTP submit at fixed " + latencyRate + " req/s, server side (API's own histogram, bucket bounds)",
        serverPercentiles(before, serverBuckets(d, "tasks.submit")));
    long stored = (long) scalar(db, "SELECT count(*) FROM tasks");
    long acked = max.ok() + fixed.ok();
    report("HTTP submit: acknowledged tasks found in the database", stored + " stored ≥ " + acked + " acknowledged (warm-up adds more)");
    if (stored < acked) throw new BulwarkException("acknowledged tasks are missing: " + acked + " acked, " + stored + " stored");
  }

  private void batchSubmit(LocalDeployment d, Database db) throws Exception {
    section("HTTP batch submit: POST /v1/tasks/batch with 1000 tasks per request");
    reset(d, db);
    StringBuilder sb = new StringBuilder("{\"tasks\":[");
    for (int i = 0; i < 1000; i++) sb.append(i == 0 ? "" : ",").append("{\"type\":\"noop\",\"input\":").append(i).append('}');
    byte[] body = sb.append("]}").toString().getBytes(StandardCharsets.UTF_8);
    HttpLoad load = new HttpLoad("127.0.0.1", d.api().port);
    LoadResult r = load.closedLoop(4, seconds, n -> HttpConnection.request("POST", "/v1/tasks/batch", d.adminKey(), "", body));
    report("HTTP batch submit (4 connections, 1000 tasks/request, " + seconds + " s)",
        String.format("%,.0f tasks/s (%s)", r.rate() * 1000, r.summary()));
  }

  private void latency(LocalDeployment d, Database db) throws Exception {
    section("enqueue → start latency on an idle system: 200 sequential submissions, each awaited");
    reset(d, db);
    if (d.workers().isEmpty()) d.addWorkers(workers);
    for (var w : d.workers()) LocalDeployment.awaitHealthy(w, Duration.ofSeconds(60));
    HttpClient http = HttpClient.newHttpClient();
    Pattern idPattern = Pattern.compile("\"id\":\"([0-9a-f-]{36})\"");
    for (int i = 0; i < 220; i++) {
      HttpResponse<String> created = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + d.api().port + "/v1/tasks"))
          .header("Authorization", "Bearer " + d.adminKey()).POST(HttpRequest.BodyPublishers.ofString("{\"type\":\"noop\"}")).build(),
          HttpResponse.BodyHandlers.ofString());
      Matcher m = idPattern.matcher(created.body());
      if (!m.find()) throw new BulwarkException("unexpected submit response " + created.statusCode() + ": " + created.body());
      http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + d.api().port + "/v1/tasks/" + m.group(1) + "?wait=5"))
          .header("Authorization", "Bearer " + d.adminKey()).GET().build(), HttpResponse.BodyHandlers.discarding());
      if (i == 19) truncate(db); // the first 20 warm up the JIT
    }
    double p50 = scalar(db, "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at)) * 1000 FROM tasks");
    double p99 = scalar(db, "SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at)) * 1000 FROM tasks");
    report("enqueue → start latency, idle (DB clock: created_at → started_at, 200 tasks)", String.format("median %.2f ms, p99 %.2f ms", p50, p99));
  }

  private void endToEnd(LocalDeployment d, Database db) throws Exception {
    section("end to end: HTTP submit at " + e2eRate + "/s for " + e2eSeconds + " s with " + workers + " worker(s) running noop");
    reset(d, db);
    if (d.workers().isEmpty()) d.addWorkers(workers);
    for (var w : d.workers()) LocalDeployment.awaitHealthy(w, Duration.ofSeconds(60));
    HttpLoad load = new HttpLoad("127.0.0.1", d.api().port);
    byte[] body = "{\"type\":\"noop\",\"input\":null}".getBytes(StandardCharsets.UTF_8);
    String run = Long.toHexString(System.nanoTime());
    LoadResult r = load.openLoop(connections, e2eSeconds, e2eRate,
        n -> HttpConnection.request("POST", "/v1/tasks", d.adminKey(), "Idempotency-Key: e" + run + n + "\r\n", body));
    long backlogAtEnd = (long) scalar(db, "SELECT count(*) FROM tasks WHERE state <> 'succeeded'");
    long t0 = System.nanoTime();
    awaitCount(db, "state = 'succeeded'", r.ok(), Duration.ofMinutes(5));
    double drain = (System.nanoTime() - t0) / 1e9;
    double span = scalar(db, "SELECT extract(epoch FROM max(finished_at) - min(created_at)) FROM tasks");
    report("end to end: submitted", r.summary());
    report("end to end: completed", String.format("%,.0f tasks/s sustained (%d tasks, first submit to last finish %.1f s);"
        + " backlog when load stopped %d, drained in %.1f s", r.ok() / span, r.ok(), span, backlogAtEnd, drain));
  }

  /**
   * The hostile-client suite ({@link HostileBench}): a victim tenant submitting at a steady rate
   * through the gateway, with workers running, while an attacker runs each attack in turn.
   */
  private void hostile(LocalDeployment d, Database db, int gatewayPort) throws Exception {
    section("hostile clients: a victim tenant submits " + hostileRate + "/s through the gateway for " + hostileSeconds
        + " s per run, alone and then during each attack");
    reset(d, db);
    if (d.workers().isEmpty()) d.addWorkers(workers);
    for (var w : d.workers()) LocalDeployment.awaitHealthy(w, Duration.ofSeconds(60));
    String victim = newKey(db, "victim");
    String attacker = newKey(db, "attacker");
    HttpResponse<String> parked = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gatewayPort + "/v1/tasks"))
        .header("Authorization", "Bearer " + attacker)
        .POST(HttpRequest.BodyPublishers.ofString("{\"type\":\"noop\",\"runAt\":\"2099-01-01T00:00:00Z\"}")).build(),
        HttpResponse.BodyHandlers.ofString());
    Matcher m = Pattern.compile("\"id\":\"([0-9a-f-]{36})\"").matcher(parked.body());
    if (!m.find()) throw new BulwarkException("could not create the attacker's task to poll: " + parked.body());
    HostileBench.Target target = new HostileBench.Target("127.0.0.1", gatewayPort, victim, attacker, m.group(1),
        () -> {
          try {
            return (long) scalar(db, "SELECT count(*) FROM tasks WHERE tenant = 'victim'");
          } catch (SQLException e) {
            throw new BulwarkException("cannot count the victim's tasks: " + e.getMessage(), e);
          }
        },
        () -> d.supervisor().components().stream().mapToInt(c -> c.restarts).sum(),
        (from, to) -> victimStartP99(db, from, to),
        () -> {
          Map<Long, String> group = new java.util.HashMap<>();
          group.put(ProcessHandle.current().pid(), "bench (load, attacker, supervisor)");
          for (Component c : d.supervisor().components()) {
            if (c.pid() > 0) Footprint.putTree(group, c.pid(), c.name);
          }
          // PostgreSQL's nodes are not supervised components here: by process kind (backends, walsender, ...)
          return io.bulwark.cli.bench.ProcessCpu.byGroup(ProcessHandle.current(),
              pid -> group.containsKey(pid) ? group.get(pid) : io.bulwark.cli.bench.ProcessCpu.postgresGroup(pid));
        });
    HostileBench bench = new HostileBench(target, hostileSeconds, hostileRate, this::report);
    List<HostileBench.Attack> all = List.of(HostileBench.slowBodies(target), HostileBench.hugeJson(target), HostileBench.longPolls(target),
        HostileBench.badRunAt(target), HostileBench.bigBinaries(target), HostileBench.priorityFlood(target));
    List<String> names = all.stream().map(HostileBench.Attack::name).toList();
    for (String a : attacks) {
      if (!names.contains(a)) throw new BulwarkException("--attacks: no attack '" + a + "'; the attacks are " + String.join(", ", names));
    }
    bench.run(all.stream().filter(a -> attacks.isEmpty() || attacks.contains(a.name())).toList());
  }

  private static String newKey(Database db, String tenant) {
    io.bulwark.core.auth.ApiKey key = io.bulwark.core.auth.ApiKey.generate();
    new io.bulwark.postgres.ApiKeyRepository(db).create(key.id(), tenant, "bench " + tenant, key.secretHash(), false);
    return key.token();
  }

  /** p99 of the victim's enqueue → start (DB clock) for tasks created in the window, once all have started (60 s at most). */
  private static double victimStartP99(Database db, java.time.Instant from, java.time.Instant to) throws Exception {
    String window = " FROM tasks WHERE tenant = 'victim' AND created_at BETWEEN '" + from + "' AND '" + to + "'";
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (scalar(db, "SELECT count(*)" + window + " AND started_at IS NULL") > 0) {
      if (System.nanoTime() > deadline) return Double.POSITIVE_INFINITY;
      Thread.sleep(200); // polling against the deadline above
    }
    return scalar(db, "SELECT coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at)) * 1000, 0)"
        + window);
  }

  private void gatewayOverhead(LocalDeployment d, Database db, Path root) throws Exception {
    section("load balancer overhead: the same requests direct to api-main, through the gateway, through HAProxy");
    reset(d, db);
    HttpClient http = HttpClient.newHttpClient();
    HttpResponse<String> created = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + d.api().port + "/v1/tasks"))
        .header("Authorization", "Bearer " + d.adminKey()).POST(HttpRequest.BodyPublishers.ofString("{\"type\":\"noop\"}")).build(),
        HttpResponse.BodyHandlers.ofString());
    Matcher m = Pattern.compile("\"id\":\"([0-9a-f-]{36})\"").matcher(created.body());
    if (!m.find()) throw new BulwarkException("could not create the task to read: " + created.body());
    byte[] get = HttpConnection.request("GET", "/v1/tasks/" + m.group(1), d.adminKey(), "", null);
    byte[] submitBody = "{\"type\":\"noop\",\"input\":null}".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    String run = Long.toHexString(System.nanoTime());
    // a key per submission across all runs: every target creates tasks (a repeated key would be an idempotent replay, a lookup)
    java.util.concurrent.atomic.AtomicLong submissions = new java.util.concurrent.atomic.AtomicLong();
    java.util.function.LongFunction<byte[]> submit = n -> HttpConnection.request("POST", "/v1/tasks", d.adminKey(),
        "Idempotency-Key: g" + run + "-" + submissions.incrementAndGet() + "\r\n", submitBody);
    Map<String, Integer> targets = new LinkedHashMap<>();
    Map<String, Long> proxyPids = new LinkedHashMap<>();
    targets.put("direct", d.api().port);
    targets.put("gateway", d.entryPort());
    proxyPids.put("gateway", d.gateway().pid());
    Process haproxy = startHaproxy(d, root);
    if (haproxy != null) {
      targets.put("haproxy", haproxyPort);
      proxyPids.put("haproxy", haproxy.pid());
    }
    try {
      // a JVM proxy compiles its hot path during its first seconds of load (C2 on these 2 cores):
      // warm every target with both kinds of request first, so the figures are of a steady state
      for (int port : targets.values()) {
        HttpLoad load = new HttpLoad("127.0.0.1", port);
        load.closedLoop(connections, WARM_UP_SECONDS, n -> get);
        load.closedLoop(connections, WARM_UP_SECONDS / 2.0, submit);
      }
      compare(db, "GET /v1/tasks/{id}", targets, proxyPids, n -> get);
      compare(db, "POST /v1/tasks (submit)", targets, proxyPids, submit);
      if (haproxy == null) report("HAProxy", "not installed (apt-get install haproxy) — skipped");
    } finally {
      if (haproxy != null) {
        haproxy.destroy();
        haproxy.waitFor();
      }
    }
  }

  /**
   * The same requests against each target, one after another: max throughput, then latency at a
   * fixed rate, each from the same {@link #settle} start (statistics of the tables as the warm-up
   * filled them, a fresh checkpoint). For a target behind a proxy, the proxy process's CPU time per
   * request during the max-throughput run too: on a shared machine, that is what a proxy takes from
   * the API servers.
   */
  private void compare(Database db, String what, Map<String, Integer> targets, Map<String, Long> proxyPids,
      java.util.function.LongFunction<byte[]> request) throws InterruptedException {
    Map<String, LoadResult> max = new LinkedHashMap<>();
    Map<String, LoadResult> fixed = new LinkedHashMap<>();
    Map<String, Double> cpuMicros = new LinkedHashMap<>();
    for (var t : targets.entrySet()) {
      settle(db);
      HttpLoad load = new HttpLoad("127.0.0.1", t.getValue());
      load.closedLoop(16, 3, request); // warm-up
      Long pid = proxyPids.get(t.getKey());
      Duration cpu0 = pid == null ? null : cpuTime(pid);
      LoadResult r = load.closedLoop(connections, seconds, request);
      if (cpu0 != null) cpuMicros.put(t.getKey(), cpuTime(pid).minus(cpu0).toNanos() / 1000.0 / Math.max(1, r.ok()));
      max.put(t.getKey(), r);
      fixed.put(t.getKey(), load.openLoop(connections, seconds, latencyRate, request));
    }
    LoadResult direct = max.get("direct");
    for (String t : targets.keySet()) {
      report(what + " max throughput, " + t + " (" + connections + " connections, " + seconds + " s)",
          max.get(t).summary() + (t.equals("direct") ? "" : String.format(" = %.0f%% of direct", 100 * max.get(t).rate() / direct.rate()))
              + (cpuMicros.containsKey(t) ? String.format("; %s CPU %.1f µs/request", t, cpuMicros.get(t)) : ""));
      report(what + " at fixed " + latencyRate + " req/s, " + t, fixed.get(t).summary() + (t.equals("direct") ? ""
          : String.format("; p99 %+.2f ms vs direct", fixed.get(t).percentileMillis(99) - fixed.get("direct").percentileMillis(99))));
    }
  }

  private int haproxyPort;
  private static final int WARM_UP_SECONDS = 5;

  /**
   * Waits for the first base backup and runs the first verification (a restore) now: scheduled,
   * it would come a minute after start, in the middle of a measurement; the next is a day away.
   */
  private static void settleBackups(LocalDeployment d) {
    long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
    while (d.backups().status().newestBackup().isEmpty()) {
      if (System.nanoTime() > deadline) throw new BulwarkException("the first base backup did not complete within 2 minutes");
      LocalDeployment.pause(100);
    }
    var verified = d.backups().verifyNow();
    System.out.println("bench: first base backup taken and verified (" + (verified.ok() ? "ok" : "FAILED") + ") before measuring");
  }

  /** CPU time (user + system) a process has used so far. */
  private static Duration cpuTime(long pid) {
    return ProcessHandle.of(pid).flatMap(h -> h.info().totalCpuDuration()).orElse(Duration.ZERO);
  }

  /** HAProxy on its own port in front of the same API servers, if it is installed. */
  private Process startHaproxy(LocalDeployment d, Path root) throws Exception {
    Path binary = Path.of("/usr/sbin/haproxy");
    if (!Files.isExecutable(binary)) return null;
    haproxyPort = Ports.free();
    HaproxyConfig base = d.haproxyConfig();
    HaproxyConfig config = new HaproxyConfig(base.host(), haproxyPort, root.resolve("run/bench-haproxy.sock"), base.servers(), base.timings());
    Path cfg = root.resolve("run/bench-haproxy.cfg");
    // as `up --lb haproxy` runs it, access log included (to stdout, here a file), like the built-in gateway's
    Files.writeString(cfg, config.render());
    Process p = new ProcessBuilder(binary.toString(), "-db", "-f", cfg.toString())
        .redirectErrorStream(true).redirectOutput(root.resolve("logs/bench-haproxy.log").toFile()).start();
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    Balancer.Haproxy balancer = new Balancer.Haproxy(new HaproxyRuntime(config.statsSocket()));
    while (System.nanoTime() < deadline) {
      try {
        if (balancer.isUp("api-main")) return p;
      } catch (RuntimeException e) {
        // not listening yet
      }
      Thread.sleep(50); // polling HAProxy's readiness against the deadline above
    }
    p.destroy();
    throw new BulwarkException("HAProxy did not put api-main in service within 20 s; see logs/bench-haproxy.log");
  }

  // ---------------------------------------------------------------- helpers

  private void section(String s) {
    System.out.println();
    System.out.println("== " + s);
  }

  private void report(String what, String value) {
    System.out.println("   " + what + ": " + value);
    results.put(what, value);
  }

  /**
   * Empty tables and no workers. Not followed by VACUUM or ANALYZE: TRUNCATE leaves the tables'
   * statistics unknown, which the planner treats as "not small" (index scans); analyzing them empty
   * would record zero rows, and the API's and workers' prepared statements would then be planned as
   * sequential scans of tables that grow by thousands of rows a second, until autovacuum's next round.
   */
  private void reset(LocalDeployment d, Database db) throws SQLException {
    d.removeWorkers();
    truncate(db);
  }

  private static void truncate(Database db) throws SQLException {
    try (Connection c = db.connection(); Statement st = c.createStatement()) {
      st.execute("TRUNCATE tasks, idempotency_keys");
    }
  }

  /**
   * The same starting point for each target of a comparison: fresh statistics, and a checkpoint
   * just taken (so no target's run pays for a checkpoint the previous one's writes started, nor gets
   * the cheap WAL of the pages they already wrote in full since one).
   */
  private static void settle(Database db) {
    try (Connection c = db.connection(); Statement st = c.createStatement()) {
      st.execute("ANALYZE tasks, idempotency_keys");
      st.execute("CHECKPOINT");
    } catch (SQLException e) {
      throw new BulwarkException("could not analyze and checkpoint between runs: " + e.getMessage(), e);
    }
  }

  private static void vacuum(Database db) throws SQLException {
    try (Connection c = db.connection(); Statement st = c.createStatement()) {
      st.execute("VACUUM ANALYZE tasks");
    }
  }

  private static void verifyDurable(Database db) throws SQLException {
    try (Connection c = db.connection(); Statement st = c.createStatement()) {
      for (String setting : List.of("fsync", "synchronous_commit", "full_page_writes")) {
        try (ResultSet rs = st.executeQuery("SHOW " + setting)) {
          rs.next();
          if (!rs.getString(1).equals("on")) throw new BulwarkException(setting + " is " + rs.getString(1) + "; benchmarks run durable only");
        }
      }
    }
  }

  private static double scalar(Database db, String sql) throws SQLException {
    try (Connection c = db.connection(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
      rs.next();
      return rs.getDouble(1);
    }
  }

  private static void awaitCount(Database db, String where, long expected, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if ((long) scalar(db, "SELECT count(*) FROM tasks WHERE " + where) >= expected) return;
      Thread.sleep(200); // polling against the deadline above
    }
    throw new BulwarkException("timed out waiting for " + expected + " tasks with " + where);
  }

  /** Cumulative bucket counts of the API's request-latency histogram for one route. */
  private static Map<Double, Long> serverBuckets(LocalDeployment d, String route) throws Exception {
    HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + d.api().port + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
    Pattern p = Pattern.compile("^bulwark_http_request_seconds_bucket\\{route=\"" + Pattern.quote(route)
        + "\",le=\"([^\"]+)\"} (\\d+)$", Pattern.MULTILINE);
    Map<Double, Long> out = new java.util.TreeMap<>();
    Matcher m = p.matcher(r.body());
    while (m.find()) out.put(m.group(1).equals("+Inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(m.group(1)), Long.parseLong(m.group(2)));
    return out;
  }

  private static String serverPercentiles(Map<Double, Long> before, Map<Double, Long> after) {
    long total = after.getOrDefault(Double.POSITIVE_INFINITY, 0L) - before.getOrDefault(Double.POSITIVE_INFINITY, 0L);
    StringBuilder sb = new StringBuilder();
    for (double q : new double[] {0.5, 0.99, 0.999}) {
      for (Map.Entry<Double, Long> e : after.entrySet()) {
        long n = e.getValue() - before.getOrDefault(e.getKey(), 0L);
        if (total > 0 && n >= q * total) {
          sb.append(String.format("p%s ≤ %s ms  ", q * 100 == Math.rint(q * 100) ? String.valueOf((int) (q * 100)) : String.valueOf(q * 100),
              e.getKey().isInfinite() ? "∞" : String.valueOf(e.getKey() * 1000)));
          break;
        }
      }
    }
    return sb.toString().trim() + " (" + total + " requests)";
  }

  private void sampleHeap(LocalDeployment d) {
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
    Pattern used = Pattern.compile("^bulwark_jvm_heap_used_bytes (\\S+)$", Pattern.MULTILINE);
    while (!Thread.currentThread().isInterrupted()) {
      List<Component> all = new ArrayList<>(d.workers());
      all.addAll(d.apis());
      for (Component c : all) {
        try {
          String path = c.role.equals("api") ? "/metrics" : "/metrics";
          HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + c.port + path))
              .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
          Matcher m = used.matcher(r.body());
          if (m.find()) maxHeap.merge(c.name, (long) Double.parseDouble(m.group(1)), Math::max);
        } catch (IOException e) {
          // component restarting or not up yet
        } catch (InterruptedException e) {
          return;
        }
      }
      try {
        Thread.sleep(500); // sampling interval
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  private static void deleteTree(Path root) {
    try (var walk = Files.walk(root)) {
      walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // scratch directory; best effort
    }
  }
}
