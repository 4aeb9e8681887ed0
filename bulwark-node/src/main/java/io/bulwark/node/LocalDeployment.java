package io.bulwark.node;

import io.bulwark.cluster.events.EventRecorder;
import io.bulwark.cluster.events.FileEventJournal;
import io.bulwark.core.BulwarkException;
import io.bulwark.core.ProcessSecrets;
import io.bulwark.core.auth.ApiKey;
import io.bulwark.dns.BindServer;
import io.bulwark.dr.BackupService;
import io.bulwark.dr.FailoverController;
import io.bulwark.dr.PrimaryAccess;
import io.bulwark.dr.ReplicationRole;
import io.bulwark.dr.WalArchiver;
import io.bulwark.embedded.EmbeddedPostgres;
import io.bulwark.postgres.ApiKeyRepository;
import io.bulwark.postgres.AppRole;
import io.bulwark.postgres.Database;
import io.bulwark.storage.FileSystemBlobStore;
import java.nio.file.Files;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The whole local topology under one data directory, each part its own supervised process:
 * PostgreSQL (embedded binaries, durable settings; its topology a {@link LocalDatabase}: a primary
 * and a hot standby under the failover controller, or one node), two API servers behind a load
 * balancer, N workers. Used by
 * {@code bulwark up}, by {@code bulwark bench}, and by the process-level failure tests, so all three
 * exercise the same thing.
 */
public final class LocalDeployment implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LocalDeployment.class);
  static final String DATABASE = "bulwark";

  /** Which load balancer fronts the API servers. */
  public enum Lb { BUILTIN, HAPROXY }

  /** Where blobs and backups live: the data directory, or two Azurite regions replicated (see {@link StorageLayout}). */
  public enum Storage { FILES, AZURITE }

  /**
   * What to start. {@code workerArgs} are extra flags for every worker (e.g. a shorter lease in
   * tests). {@code standby}: run pg-a and pg-b as primary and hot standby under the failover
   * controller; without it, one PostgreSQL node (pg-a) restarted by the supervisor.
   */
  public record Options(int port, int workers, int pgPort, String heap, List<String> workerArgs, List<String> apiArgs, Lb lb,
      boolean standby, BackupService.Config backups, java.util.Optional<FrontDoor> frontDoor, Storage storage, Monitoring monitoring,
      java.util.Optional<io.bulwark.gateway.GatewayConfig.Tls> tls) {
    public static Options defaults() {
      return new Options(8080, 2, 0, "256m", List.of(), List.of(), Lb.BUILTIN, true, BackupService.Config.DEFAULTS, java.util.Optional.empty(),
          Storage.FILES, Monitoring.DEFAULT, java.util.Optional.empty());
    }

    /** HTTPS on the public port (the built-in gateway) with these files. */
    Options withTls(io.bulwark.gateway.GatewayConfig.Tls t) {
      return new Options(port, workers, pgPort, heap, workerArgs, apiArgs, lb, standby, backups, frontDoor, storage, monitoring, java.util.Optional.of(t));
    }

    public Options withStorage(Storage st) {
      return new Options(port, workers, pgPort, heap, workerArgs, apiArgs, lb, standby, backups, frontDoor, st, monitoring, tls);
    }

    public Options withFrontDoor(FrontDoor f) {
      return new Options(port, workers, pgPort, heap, workerArgs, apiArgs, lb, standby, backups, java.util.Optional.of(f), storage, monitoring, tls);
    }

    public Options withPort(int p) {
      return new Options(p, workers, pgPort, heap, workerArgs, apiArgs, lb, standby, backups, frontDoor, storage, monitoring, tls);
    }

    public Options withWorkers(int n) {
      return new Options(port, n, pgPort, heap, workerArgs, apiArgs, lb, standby, backups, frontDoor, storage, monitoring, tls);
    }

    public Options withWorkerArgs(String... args) {
      return new Options(port, workers, pgPort, heap, List.of(args), apiArgs, lb, standby, backups, frontDoor, storage, monitoring, tls);
    }

    public Options withLb(Lb l) {
      return new Options(port, workers, pgPort, heap, workerArgs, apiArgs, l, standby, backups, frontDoor, storage, monitoring, tls);
    }

    public Options withBackups(BackupService.Config b) {
      return new Options(port, workers, pgPort, heap, workerArgs, apiArgs, lb, standby, b, frontDoor, storage, monitoring, tls);
    }

    public Options withStandby(boolean s) {
      return new Options(port, workers, pgPort, heap, workerArgs, apiArgs, lb, s, backups, frontDoor, storage, monitoring, tls);
    }

    public Options withMonitoring(Monitoring m) {
      return new Options(port, workers, pgPort, heap, workerArgs, apiArgs, lb, standby, backups, frontDoor, storage, m, tls);
    }
  }

  /**
   * The built-in monitor ({@code bulwark monitor run} as a supervised component): on unless {@code
   * enabled} is false; {@code policy} is its thresholds and escalation file (none: incidents are kept
   * and shown, nobody is told).
   */
  public record Monitoring(boolean enabled, java.util.Optional<java.nio.file.Path> policy) {
    public static final Monitoring DEFAULT = new Monitoring(true, java.util.Optional.empty());
    public static final Monitoring OFF = new Monitoring(false, java.util.Optional.empty());

    public static Monitoring withPolicy(java.nio.file.Path file) {
      return new Monitoring(true, java.util.Optional.of(file));
    }
  }

  /**
   * The DNS front door of {@code up --dns bind}: a second gateway on its own loopback address, a local
   * BIND serving {@code zone}, and the DNS controller keeping {@code name} on a healthy gateway.
   *
   * @param secondAddress the second gateway's address (the first listens on 127.0.0.1): a DNS record
   *     holds addresses, not ports, so the two gateways share the port and differ by address
   */
  public record FrontDoor(String name, String zone, int dnsPort, String secondAddress, Duration ttl) {
    public static FrontDoor defaults(int dnsPort) {
      return new FrontDoor("api.bulwark.test", "bulwark.test", dnsPort, "127.0.0.2", Duration.ofSeconds(5));
    }
  }

  static final String NODE_A = "pg-a";
  static final String NODE_B = "pg-b";

  private final DataDir dir;
  private final FileEventJournal journal;
  private final Options options;
  private final Supervisor supervisor;
  private final String password;
  /** The {@link AppRole}'s password: new at every start, kept only in memory and handed to the children that connect. */
  private final String appPassword = DataDir.newPassword();
  /** Node pg-a: the only node, or the first of the primary/standby pair. */
  private final EmbeddedPostgres pg;
  private final LocalDatabase database;
  private BackupService backups;
  /** The backup repository the backups write to (closed after them: with two regions it runs a replicator). */
  private io.bulwark.core.blob.BlobStore archiveStore;
  private final ScheduledExecutorService statusWriter =
      Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("db-status").factory());
  private final List<Component> workers = new ArrayList<>();
  private final List<Component> apis = new ArrayList<>();
  private Component gateway;
  private Component monitor;
  /** The front door's parts (empty without --dns): the second gateway, BIND, the DNS controller. */
  private final List<Component> frontDoor = new ArrayList<>();
  /** Where blobs and backups live; with --storage azurite, the two Azurite regions run as components. */
  private final StorageLayout storage;
  private final List<Component> storageRegions = new ArrayList<>();
  private io.bulwark.storage.RegionSwitcher regionSwitcher;
  private io.bulwark.core.blob.BlobStore switcherBlobs;
  private String adminKey;
  private boolean adminKeyCreated;
  private int nextWorker = 1;

  public LocalDeployment(DataDir dir, Options options) {
    this.dir = dir;
    this.options = options;
    dir.create();
    this.journal = new FileEventJournal(dir.events());
    this.supervisor = new Supervisor(dir, new EventRecorder(journal, EventRecorder.LOCAL_NODE, "supervisor"));
    this.password = dir.pgPassword();
    this.storage = options.storage() == Storage.AZURITE ? StorageLayout.azurite(dir, Ports.free(), Ports.free()) : StorageLayout.files(dir);
    migrateSingleNodeDir(dir);
    int portA = options.pgPort() > 0 ? options.pgPort() : Ports.free();
    int portB = options.pgPort() > 0 ? options.pgPort() + 1 : Ports.free();
    ReplicationRole replication = new ReplicationRole(ReplicationRole.DEFAULT_NAME, dir.pgReplicationPassword());
    if (options.standby()) writePassfile(dir, replication);
    this.pg = node(NODE_A, portA, portB);
    this.database = options.standby()
        ? new LocalDatabase.Replicated(pg, node(NODE_B, portB, portA), supervisor, dir.haState(), password, replication,
            new EventRecorder(journal, EventRecorder.LOCAL_NODE, "db-failover"))
        : new LocalDatabase.Single(pg, supervisor);
  }

  private EmbeddedPostgres node(String name, int port, int otherPort) {
    Map<String, String> settings = new LinkedHashMap<>(
        WalArchiver.postgresSettings(dir.walSpool(), options.backups().archiveTimeout()));
    if (options.standby()) {
      settings.putAll(FailoverController.replicationSettings(name, otherPort, ReplicationRole.DEFAULT_NAME, dir.pgPassfile()));
    }
    return EmbeddedPostgres.builder()
        .dataDir(dir.pgNode(name))
        .port(port)
        .password(password)
        .logFile(dir.logs().resolve(name + ".log"))
        .settings(settings)
        .build();
  }

  /** Earlier versions kept the one cluster in DIR/pg: it becomes node pg-a. */
  private static void migrateSingleNodeDir(DataDir dir) {
    if (Files.isDirectory(dir.pg()) && !Files.exists(dir.pgNode(NODE_A))) {
      try {
        Files.move(dir.pg(), dir.pgNode(NODE_A), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        log.info("moved {} to {} (node {})", dir.pg(), dir.pgNode(NODE_A), NODE_A);
      } catch (java.io.IOException e) {
        throw new BulwarkException("cannot rename " + dir.pg() + " to " + dir.pgNode(NODE_A) + ": " + e.getMessage(), e);
      }
    }
  }

  /** The libpq password file a standby streams from the primary with, as the replication role (0600; never in a config file). */
  private static void writePassfile(DataDir dir, ReplicationRole replication) {
    DataDir.writeSecret(dir.pgPassfile(), "127.0.0.1:*:*:" + replication.name() + ":" + replication.password());
  }

  /** Starts PostgreSQL, migrates, ensures the admin key, then the API and workers; returns when the API is ready. */
  public void start() {
    startStorageRegions();
    database.start();
    statusWriter.scheduleWithFixedDelay(this::publishDbStatus, 0, 1, TimeUnit.SECONDS);
    awaitPostgres(Duration.ofSeconds(60));
    createDatabase();
    try (Database db = openDatabase("up", 2)) {
      db.migrateWhenReachable(Duration.ofMinutes(1));
      ensureAdminKey(db);
      try (Connection c = db.connection()) {
        AppRole.ensure(c, DATABASE, appPassword.toCharArray());
      } catch (SQLException e) {
        throw new BulwarkException("cannot reach the database to set up role " + AppRole.NAME + ": " + e.getMessage(), e);
      }
    }
    startBackups();
    apis.add(apiServer("api-main"));
    apis.add(apiServer("api-backup"));
    for (Component a : apis) supervisor.start(a);
    gateway = options.lb() == Lb.HAPROXY ? haproxy() : builtinGateway("gateway", "127.0.0.1");
    supervisor.start(gateway);
    addWorkers(options.workers());
    for (Component a : apis) awaitHealthy(a, Duration.ofSeconds(60));
    awaitHealthy(gateway, Duration.ofSeconds(60));
    awaitInService(balancer(), "api-main", Duration.ofSeconds(30));
    options.frontDoor().ifPresent(this::startFrontDoor);
    if (options.monitoring().enabled()) startMonitor();
  }

  /**
   * The built-in monitor, last: it watches everything above, and a component it finds failing now
   * would page. Its own process (a 48 MB heap), so that it can be killed and restarted like the rest
   * and outlives none of it.
   */
  private void startMonitor() {
    int adminPort = Ports.free();
    List<String> args = new ArrayList<>(List.of("run", "--name", "monitor", "--data-dir", dir.root().toString(),
        "--admin-port", Integer.toString(adminPort)));
    options.monitoring().policy().ifPresent(p -> args.addAll(List.of("--policy", p.toAbsolutePath().toString())));
    monitor = new Component("monitor", "monitor", adminPort, "/health/ready", dir.logs().resolve("monitor.log").toFile(),
        () -> javaRole("monitor", "48m", args));
    supervisor.start(monitor);
    awaitHealthy(monitor, Duration.ofSeconds(60));
  }

  /** The built-in monitor, if it runs. */
  public java.util.Optional<Component> monitor() {
    return java.util.Optional.ofNullable(monitor);
  }

  /**
   * The front door of {@code --dns bind}: a second built-in gateway (same API servers, same port, its
   * own loopback address), a local BIND serving the zone with the name on the first gateway, and the
   * DNS controller moving the name to whichever gateway is healthy.
   */
  private void startFrontDoor(FrontDoor f) {
    if (options.lb() != Lb.BUILTIN) throw new BulwarkException("--dns bind runs a second built-in gateway; use it without --lb haproxy");
    Component second = builtinGateway("gateway-b", f.secondAddress());
    frontDoor.add(second);
    supervisor.start(second);
    String relative = f.name().substring(0, f.name().length() - f.zone().length() - 1);
    BindServer bind = BindServer.prepare(new BindServer.Config(dir.root().resolve("dns"), "127.0.0.1", f.dnsPort(), f.zone(),
        Map.of(relative, "127.0.0.1"), f.ttl()));
    Component named = new Component("named", "dns-server", f.dnsPort(), null, dir.logs().resolve("named.log").toFile(), bind::command);
    frontDoor.add(named);
    supervisor.start(named);
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (!bind.answers()) {
      if (System.nanoTime() > deadline) {
        throw new BulwarkException("BIND did not answer on 127.0.0.1:" + f.dnsPort() + " within 30 s; its log " + named.log + " ends:\n"
            + tail(named.log.toPath(), 15));
      }
      pause(50);
    }
    int adminPort = Ports.free();
    Component controller = new Component("dns", "dns", adminPort, "/health/ready", dir.logs().resolve("dns.log").toFile(),
        () -> javaRole("dns", "64m", List.of("run", "--name", "dns", "--record", f.name(), "--zone", f.zone(),
            "--ttl", f.ttl().toSeconds() + "s", "--gateway", "gateway=127.0.0.1:" + options.port(),
            "--gateway", "gateway-b=" + f.secondAddress() + ":" + options.port(), "--provider", "rfc2136",
            "--server", "127.0.0.1:" + f.dnsPort(), "--tsig-key-file", bind.keyFile().toString(),
            "--admin-port", Integer.toString(adminPort), "--data-dir", dir.root().toString())));
    frontDoor.add(controller);
    supervisor.start(controller);
    awaitHealthy(second, Duration.ofSeconds(60));
    awaitHealthy(controller, Duration.ofSeconds(60));
  }

  /**
   * With --storage azurite: region a and region b, each an Azurite with its own account, as supervised
   * components; then the region switcher, which moves every process's writes to the other region
   * when the active one fails its probes, and publishes run/storage-status.json every second.
   */
  private void startStorageRegions() {
    if (!storage.replicated()) return;
    for (StorageLayout.Region r : storage.regions()) {
      java.nio.file.Path location = dir.root().resolve("azurite-" + r.name());
      try {
        io.bulwark.core.io.Fs.createPrivateDir(location);
      } catch (java.io.IOException e) {
        throw new BulwarkException("cannot create " + location + ": " + e.getMessage(), e);
      }
      Component c = new Component("azurite-" + r.name(), "storage-region", r.port(), null, dir.logs().resolve("azurite-" + r.name() + ".log").toFile(),
          () -> io.bulwark.azure.AzuriteServer.command(location, r.port(), r.account(), r.key()));
      storageRegions.add(c);
      supervisor.start(c);
    }
    for (Component c : storageRegions) awaitHealthy(c, Duration.ofSeconds(60));
    switcherBlobs = storage.openBlobs("supervisor", new io.bulwark.core.metrics.Metrics());
    io.bulwark.storage.ReplicatedBlobStore replicated = (io.bulwark.storage.ReplicatedBlobStore) switcherBlobs;
    EventRecorder storageEvents = new EventRecorder(journal, EventRecorder.LOCAL_NODE, "storage");
    regionSwitcher = new io.bulwark.storage.RegionSwitcher(replicated.regions(), storage.choice(), io.bulwark.storage.RegionSwitcher.Config.DEFAULTS,
        "supervisor", (region, why) -> storageEvents.record(io.bulwark.cluster.events.Event.Kinds.STORAGE_SWITCH, "writes now go to region " + region + ": " + why));
    regionSwitcher.start();
    statusWriter.scheduleWithFixedDelay(this::publishStorageStatus, 1, 1, TimeUnit.SECONDS);
  }

  /** run/storage-status.json for `bulwark storage status`: the choice, each region's probes, the copies owed. */
  private void publishStorageStatus() {
    try {
      var json = new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode();
      io.bulwark.storage.RegionChoice.Choice c = storage.choice().current();
      json.put("updatedAt", java.time.Instant.now().toString());
      json.put("active", c.region()).put("since", c.since().toString()).put("why", c.why());
      var regions = json.putArray("regions");
      for (io.bulwark.storage.RegionSwitcher.Probe p : regionSwitcher.probes()) {
        StorageLayout.Region r = storage.regions().stream().filter(x -> x.name().equals(p.region())).findFirst().orElseThrow();
        regions.addObject().put("name", p.region()).put("store", "azure://" + r.account() + " (Azurite :" + r.port() + ")")
            .put("active", p.region().equals(c.region())).put("lastPassed", p.lastPassed()).put("passedInARow", p.passedInARow())
            .put("failedInARow", p.failedInARow()).put("lastProblem", p.lastProblem());
      }
      int pending = 0;
      java.time.Instant oldest = null;
      java.nio.file.Path queues = dir.storageState().resolve("replication");
      if (Files.isDirectory(queues)) {
        try (var dirs = Files.list(queues)) {
          for (java.nio.file.Path q : dirs.toList()) {
            io.bulwark.storage.ReplicationQueue queue = new io.bulwark.storage.ReplicationQueue(q);
            pending += Math.max(0, queue.size());
            java.time.Instant o = queue.oldest().orElse(null);
            if (o != null && (oldest == null || o.isBefore(oldest))) oldest = o;
          }
        }
      }
      json.put("pending", pending).put("lagSeconds", oldest == null ? 0 : java.time.Duration.between(oldest, java.time.Instant.now()).toMillis() / 1000.0);
      java.nio.file.Path f = dir.run().resolve(StorageLayout.STATUS_FILE);
      io.bulwark.core.io.Fs.writeAtomically(f, json.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
    } catch (java.io.IOException | RuntimeException e) {
      log.warn("cannot publish the storage status: {}", e.toString());
    }
  }

  public StorageLayout storage() {
    return storage;
  }

  public List<Component> storageRegions() {
    return List.copyOf(storageRegions);
  }

  /**
   * Continuous WAL archiving into the backup repository (DIR/archive, or both storage regions), base
   * backups (first start, then daily), retention and verification; always from whichever node is the
   * primary now.
   */
  private void startBackups() {
    archiveStore = storage.openArchive("supervisor", new io.bulwark.core.metrics.Metrics());
    backups = new BackupService(options.backups(), archiveStore, dir.walSpool(),
        dir.root().resolve("verify-scratch"), password, null, primaryAccess(), dir.root().resolve("last-verification.json"));
    backups.start();
  }

  /** Whichever node is the primary now, for backups and verification. */
  private PrimaryAccess primaryAccess() {
    return new PrimaryAccess() {
      @Override
      public Connection connect() throws SQLException {
        return DriverManager.getConnection(jdbcUrl(), pg.user(), password);
      }

      @Override
      public java.nio.file.Path dataDir() {
        return database.primaryDataDir();
      }
    };
  }

  /** Backups and archiving (null before start). */
  public BackupService backups() {
    return backups;
  }

  /** The load balancer in front of the API servers. */
  Balancer balancer() {
    return options.lb() == Lb.HAPROXY ? new Balancer.Haproxy(new HaproxyRuntime(haproxySocket()))
        : new Balancer.Gateway("http://127.0.0.1:" + gateway.adminPort);
  }

  /**
   * Up means clients reach the primary: a load balancer that checked api-main while its JVM was still
   * starting has marked it down and sends traffic to the backup until api-main passes its rise checks.
   */
  private static void awaitInService(Balancer balancer, String server, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      try {
        if (balancer.isUp(server)) return;
      } catch (Exception e) {
        // the balancer's admin interface is not up yet
      }
      pause(50);
    }
    throw new BulwarkException("the load balancer did not put " + server + " in service within " + timeout.toSeconds() + " s");
  }

  private Component apiServer(String name) {
    int port = Ports.free();
    return new Component(name, "api", port, "/health/ready", dir.logs().resolve(name + ".log").toFile(),
        () -> role("api", options.apiArgs(), "--name", name, "--port", Integer.toString(port)));
  }

  /** A built-in gateway on the public port of {@code host}: api-main primary, api-backup backup. */
  private Component builtinGateway(String name, String host) {
    int adminPort = Ports.free();
    List<String> args = new ArrayList<>(List.of("--name", name, "--host", host, "--port", Integer.toString(options.port()),
        "--admin-port", Integer.toString(adminPort),
        "--backend", "api-main=http://127.0.0.1:" + apis.get(0).port,
        "--backup", "api-backup=http://127.0.0.1:" + apis.get(1).port));
    options.tls().ifPresent(t -> args.addAll(List.of("--tls-cert", t.certificate().toString(), "--tls-key", t.key().toString())));
    Component g = new Component(name, "gateway", options.port(), "/health/ready", dir.logs().resolve(name + ".log").toFile(),
        () -> javaRole("gateway", args));
    g.adminPort = adminPort;
    g.healthHost = host;
    g.tlsCertificate = options.tls().map(io.bulwark.gateway.GatewayConfig.Tls::certificate).orElse(null);
    return g;
  }

  /** The system's HAProxy on the public port, configured with the same semantics. */
  private Component haproxy() {
    String binary = java.util.stream.Stream.of("/usr/sbin/haproxy", "/usr/local/sbin/haproxy", "/usr/bin/haproxy")
        .filter(p -> Files.isExecutable(java.nio.file.Path.of(p))).findFirst()
        .orElseThrow(() -> new BulwarkException("--lb haproxy needs HAProxy 2.6+ installed (apt-get install haproxy);"
            + " or use the built-in gateway (the default)"));
    java.nio.file.Path cfg = dir.run().resolve("haproxy.cfg");
    HaproxyConfig config = haproxyConfig();
    try {
      Files.writeString(cfg, config.render());
    } catch (java.io.IOException e) {
      throw new BulwarkException("cannot write " + cfg + ": " + e.getMessage(), e);
    }
    return new Component("haproxy", "gateway", options.port(), "/health/ready", dir.logs().resolve("haproxy.log").toFile(),
        () -> new ProcessBuilder(binary, "-db", "-f", cfg.toString()));
  }

  public HaproxyConfig haproxyConfig() {
    return new HaproxyConfig("127.0.0.1", options.port(), haproxySocket(),
        List.of(new HaproxyConfig.Server("api-main", "127.0.0.1", apis.get(0).port, false),
            new HaproxyConfig.Server("api-backup", "127.0.0.1", apis.get(1).port, true)),
        HaproxyConfig.Timings.defaults());
  }

  java.nio.file.Path haproxySocket() {
    return dir.run().resolve("haproxy.sock");
  }

  /** Starts n more worker processes. */
  public List<Component> addWorkers(int n) {
    List<Component> added = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      String name = "worker-" + nextWorker++;
      int healthPort = Ports.free();
      Component w = new Component(name, "worker", healthPort, "/health/ready", dir.logs().resolve(name + ".log").toFile(),
          () -> role("worker", options.workerArgs(), "--name", name, "--health-port", Integer.toString(healthPort)));
      workers.add(w);
      added.add(w);
      supervisor.start(w);
    }
    return added;
  }

  /** Stops and forgets every worker (graceful: running tasks finish or are handed back). */
  public void removeWorkers() {
    List<Component> all = List.copyOf(workers);
    workers.clear();
    for (Component w : all) supervisor.forget(w);
    Supervisor.terminate(all, Duration.ofSeconds(20));
  }

  /** Crashes PostgreSQL (SIGKILL) and keeps it down until {@link #restartPostgres()}: for failure drills (single node). */
  public void crashPostgres() {
    LocalDatabase.single(database, "crashPostgres").crash();
  }

  /** Starts PostgreSQL again after {@link #crashPostgres()} (crash recovery runs) and supervises it. */
  public void restartPostgres() {
    LocalDatabase.single(database, "restartPostgres").restart();
    awaitPostgres(Duration.ofSeconds(60));
  }

  public Database openDatabase(String name, int poolSize) {
    return Database.open(new Database.Config(jdbcUrl(), pg.user(), password, poolSize, Duration.ofSeconds(3), name));
  }

  /**
   * The URL clients use: with a standby, both nodes with {@code targetServerType=primary}, so that
   * after a failover new connections find the new primary without a restart.
   */
  String jdbcUrl() {
    return jdbcUrl(DATABASE);
  }

  private String jdbcUrl(String name) {
    return database.jdbcUrl(name);
  }

  /** The failover controller of a deployment with a standby. */
  public FailoverController controller() {
    if (database instanceof LocalDatabase.Replicated r) return r.controller();
    throw new IllegalStateException("this deployment has one database node and no failover controller");
  }

  /** The database node process currently primary. */
  public Component primaryNode() {
    return database.primary();
  }

  /** The database node process currently standby. */
  public Component standbyNode() {
    return database.standby().orElseThrow(() -> new IllegalStateException("this deployment has no standby"));
  }

  /**
   * Writes run/db-status.json for `bulwark db status`, and serves a pending `bulwark db failover`
   * request (run/db-switchover.request: the answer goes to run/db-switchover.result).
   */
  private void publishDbStatus() {
    try {
      database.publishStatus(dir, backups);
    } catch (RuntimeException e) {
      log.warn("cannot publish the database status: {}", e.toString());
    }
  }

  public String adminKey() {
    return adminKey;
  }

  public boolean adminKeyCreated() {
    return adminKeyCreated;
  }

  public Component postgres() {
    return database.primary();
  }

  /** api-main, the primary API server. */
  public Component api() {
    return apis.get(0);
  }

  public List<Component> apis() {
    return List.copyOf(apis);
  }

  /** The load balancer on the public port (built-in gateway or HAProxy). */
  public Component gateway() {
    return gateway;
  }

  /** The front door's components (the second gateway, named, the DNS controller); empty without --dns. */
  public Options options() {
    return options;
  }

  public List<Component> frontDoor() {
    return List.copyOf(frontDoor);
  }

  /** Where clients connect: the load balancer's port. */
  public int entryPort() {
    return options.port();
  }

  public List<Component> workers() {
    return List.copyOf(workers);
  }

  public DataDir dir() {
    return dir;
  }

  public Supervisor supervisor() {
    return supervisor;
  }

  /** Stops supervising and stops everything: roles first (SIGTERM), then PostgreSQL (fast shutdown). */
  @Override
  public void close() {
    if (monitor != null) {
      // first: what stops next is a shutdown, not an incident
      supervisor.forget(monitor);
      Supervisor.terminate(List.of(monitor), Duration.ofSeconds(10));
    }
    statusWriter.shutdownNow();
    if (regionSwitcher != null) regionSwitcher.close();
    if (switcherBlobs != null) switcherBlobs.close();
    database.stopDeciding(); // no failover while everything stops
    if (backups != null) backups.close();
    supervisor.stopRestarting();
    List<Component> roles = new ArrayList<>(workers);
    roles.addAll(frontDoor);
    if (gateway != null) roles.add(gateway);
    roles.addAll(apis);
    Supervisor.terminate(roles, Duration.ofSeconds(20));
    database.stop();
    if (archiveStore != null) archiveStore.close(); // after the archiver's last upload (close() waits for it)
    Supervisor.terminate(storageRegions, Duration.ofSeconds(10)); // after the archiver's last upload
    try {
      java.nio.file.Files.deleteIfExists(dir.run().resolve(DbStatus.FILE));
      java.nio.file.Files.deleteIfExists(dir.run().resolve(StorageLayout.STATUS_FILE));
    } catch (java.io.IOException ignored) {
      // best effort
    }
    supervisor.close();
  }

  public static void awaitHealthy(Component c, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (c.healthy(500)) return;
      pause(100);
    }
    throw new BulwarkException(c.name + " did not become ready within " + timeout.toSeconds() + " s; see " + c.log
        + " (restarts: " + c.restarts + "); its last lines:\n" + tail(c.log.toPath(), 20));
  }

  private void awaitPostgres(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    SQLException last = null;
    while (System.nanoTime() < deadline) {
      try (Connection c = DriverManager.getConnection(jdbcUrl("postgres"), pg.user(), password)) {
        return;
      } catch (SQLException e) {
        last = e;
        pause(100);
      }
    }
    throw new BulwarkException("PostgreSQL did not accept connections within " + timeout.toSeconds() + " s ("
        + (last == null ? "" : last.getMessage()) + "); see " + pg.logFile());
  }

  private void createDatabase() {
    try (Connection c = DriverManager.getConnection(jdbcUrl("postgres"), pg.user(), password);
        Statement st = c.createStatement()) {
      try (ResultSet rs = st.executeQuery("SELECT 1 FROM pg_database WHERE datname = '" + DATABASE + "'")) {
        if (rs.next()) return;
      }
      st.execute("CREATE DATABASE " + DATABASE);
      log.info("created database {}", DATABASE);
    } catch (SQLException e) {
      throw new BulwarkException("cannot create database " + DATABASE + ": " + e.getMessage(), e);
    }
  }

  private void ensureAdminKey(Database db) {
    if (Files.exists(dir.adminKeyFile())) {
      adminKey = DataDir.readSecret(dir.adminKeyFile());
      return;
    }
    ApiKey key = ApiKey.generate();
    new ApiKeyRepository(db).create(key.id(), "default", "admin", key.secretHash(), true);
    DataDir.writeSecret(dir.adminKeyFile(), key.token());
    adminKey = key.token();
    adminKeyCreated = true;
  }

  /**
   * The command line of a role's child JVM that talks to the database: adds connection and storage
   * flags. It connects as the {@link AppRole}, which owns nothing; its password reaches it on stdin.
   */
  private ProcessBuilder role(String role, List<String> extra, String... args) {
    List<String> all = new ArrayList<>(List.of("--jdbc-url", jdbcUrl(), "--db-user", AppRole.NAME, "--handlers-dir", dir.handlers().toString()));
    all.addAll(storage.childFlags());
    all.addAll(List.of(args));
    all.addAll(extra);
    ProcessBuilder pb = javaRole(role, all);
    // secrets: never on a command line; the supervisor moves them from the environment to the child's stdin
    pb.environment().put(ProcessSecrets.DB_PASSWORD, appPassword);
    pb.environment().putAll(storage.environment()); // the regions' connection strings
    return pb;
  }

  private ProcessBuilder javaRole(String role, List<String> args) {
    return javaRole(role, options.heap(), args);
  }

  private ProcessBuilder javaRole(String role, String heap, List<String> args) {
    return RoleProcess.command(dir, heap, role, args);
  }

  public static String tail(java.nio.file.Path log, int lines) {
    try {
      List<String> all = Files.readAllLines(log);
      return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (java.io.IOException e) {
      return "(cannot read " + log + ": " + e.getMessage() + ")";
    }
  }

  public static void pause(long ms) {
    try {
      Thread.sleep(ms); // callers poll a condition against a deadline
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BulwarkException("interrupted", e);
    }
  }
}
