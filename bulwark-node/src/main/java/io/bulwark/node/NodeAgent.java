package io.bulwark.node;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.bulwark.cluster.events.Event.Kinds;
import io.bulwark.cluster.events.EventRecorder;
import io.bulwark.cluster.lease.LeaderLease;
import io.bulwark.cluster.spec.ClusterSpec;
import io.bulwark.cluster.spec.Role;
import io.bulwark.core.BulwarkException;
import io.bulwark.dr.BackupService;
import io.bulwark.dr.DatabaseMember;
import io.bulwark.dr.PrimaryAccess;
import io.bulwark.dr.WalArchiver;
import io.bulwark.embedded.EmbeddedPostgres;
import io.bulwark.etcd.EtcdClusterState;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One host of a cluster: runs what the cluster file says this node runs, as supervised child
 * processes (restarted with backoff, as under `up`), and keeps the node's registration in etcd
 * ({@code /bulwark/<cluster>/members/<node>}: its components, their pids and health) under a lease,
 * so `bulwark status --cluster` sees every node and a node whose agent is gone disappears within the
 * lease. Crashes and restarts go to the cluster's event journal in etcd.
 *
 * <p>Runs database nodes ({@link DatabaseMember}: PostgreSQL, with failover decided through the
 * cluster's leader lease in etcd), API servers, gateways (in front of every API server in the file),
 * workers, and the DNS controller (of the nodes that run it, the holder of the cluster's DNS lease
 * acts). The monitor is not run by the agent yet: a node that runs it is refused at start.
 */
public final class NodeAgent implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(NodeAgent.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  public static final Duration REGISTRATION_TTL = Duration.ofSeconds(5);
  public static final Duration ETCD_TIMEOUT = Duration.ofSeconds(2);

  private final ClusterSpec spec;
  private final ClusterSpec.Node node;
  private final DataDir dir;
  private final String heap;
  private final List<Component> components = new ArrayList<>();
  private final ScheduledExecutorService registrar =
      Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("agent-registration").factory());
  /** Health probes of the components, all at once (each bounded by its connect and read timeouts). */
  private final java.util.concurrent.ExecutorService probes = Executors.newVirtualThreadPerTaskExecutor();
  private final Instant startedAt = Instant.now();
  private EtcdClusterState state;
  private EtcdClusterState.Registration registration;
  private EventRecorder events = EventRecorder.NONE;
  private io.bulwark.cluster.events.EventJournal journal;
  private Supervisor supervisor;
  private String clusterId;
  private volatile String lastRegistrationError;
  private final List<String> etcdEndpoints;
  private EmbeddedPostgres pg;
  private DatabaseMember database;
  private Component gateway;
  private io.bulwark.storage.RegionSwitcher regionSwitcher;
  /** API servers this agent added to its gateway because they registered in etcd, by name → URL; the gateway pid they were added to. */
  private final java.util.Map<String, String> discovered = new java.util.HashMap<>();
  private long discoveredFor;
  private final java.net.http.HttpClient admin = java.net.http.HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();

  public NodeAgent(ClusterSpec spec, String nodeName, DataDir dir, String heap) {
    this(spec, nodeName, dir, heap, List.of());
  }

  private final Path clusterFile;

  /** @param etcdEndpoints the etcd endpoints this host uses, when not the cluster file's (e.g. only its own member) */
  public NodeAgent(ClusterSpec spec, String nodeName, DataDir dir, String heap, List<String> etcdEndpoints) {
    this(spec, null, nodeName, dir, heap, etcdEndpoints);
  }

  /** @param clusterFile where the cluster file is (a monitor started by this agent reads it) */
  public NodeAgent(ClusterSpec spec, Path clusterFile, String nodeName, DataDir dir, String heap, List<String> etcdEndpoints) {
    this.clusterFile = clusterFile;
    this.spec = spec;
    this.node = spec.node(nodeName);
    this.dir = dir;
    this.heap = heap;
    this.etcdEndpoints = etcdEndpoints.isEmpty() ? spec.etcd().endpoints() : etcdEndpoints;
    if (node.runs(Role.POSTGRES) && (spec.archive() == null || spec.archive().uri() == null || spec.archive().uri().isBlank())) {
      throw new BulwarkException("node '" + node.name() + "' runs postgres but the cluster file has no [archive] uri (file:/path or"
          + " azure://ACCOUNT/CONTAINER); the database nodes archive their WAL and base backups there and seed standbys from it");
    }
    if (spec.tls() != null && (node.runs(Role.API) || node.runs(Role.WORKER))) {
      requireReadable("[tls] ca", spec.tls().ca()); // its API servers and workers verify the database with it
    }
  }

  /** Joins the cluster in etcd, starts the node's components, and starts registering them. */
  public void start() {
    dir.create();
    state = new EtcdClusterState(etcdEndpoints, spec.etcdPrefix(), ETCD_TIMEOUT);
    clusterId = join();
    writeClusterId(clusterId);
    journal = state.journal();
    events = new EventRecorder(journal, node.name(), "agent");
    supervisor = new Supervisor(dir, events.as("supervisor"));
    String password = readPassword();
    if (node.runs(Role.POSTGRES)) startDatabase(password);
    if (node.runs(Role.API)) components.add(api(password));
    if (node.runs(Role.GATEWAY)) components.add(gateway = gateway());
    if (node.runs(Role.WORKER)) for (int i = 1; i <= node.workers(); i++) components.add(worker(i, password));
    if (node.runs(Role.DNS)) components.add(dnsController());
    if (node.runs(Role.MONITOR)) components.add(monitor());
    if ((node.runs(Role.API) || node.runs(Role.WORKER)) && spec.storage().replicated()) startStorageRegions();
    for (Component c : components) supervisor.start(c);
    registration = state.register(node.name(), REGISTRATION_TTL);
    registrar.scheduleWithFixedDelay(this::register, 0, 1, TimeUnit.SECONDS);
    events.record(Kinds.COMPONENT_START, "agent started on " + node.name() + " (" + node.address() + "): "
        + components.stream().map(c -> c.name).toList());
    log.info("agent of node {} in cluster {} ({}): running {}", node.name(), spec.name(), clusterId,
        components.stream().map(c -> c.name).toList());
  }

  /** How long an agent waits for etcd at start (a member still starting, a busy host) before it gives up. */
  static final Duration JOIN_PATIENCE = Duration.ofSeconds(60);

  /** Joins the cluster's state in etcd, waiting for an etcd that does not answer yet (with backoff, up to a minute). */
  private String join() {
    long deadline = System.nanoTime() + JOIN_PATIENCE.toNanos();
    long backoffMs = 250;
    while (true) {
      try {
        return state.join(readClusterId());
      } catch (io.bulwark.cluster.lease.LeaseStoreUnavailableException e) {
        if (System.nanoTime() - deadline > 0) {
          throw new BulwarkException("etcd did not answer within " + JOIN_PATIENCE.toSeconds() + " s (" + e.getMessage()
              + "); check the [etcd] endpoints in the cluster file and that a quorum of members runs");
        }
        log.warn("etcd does not answer yet ({}); retrying in {} ms", e.getMessage(), backoffMs);
        LocalDeployment.pause(backoffMs);
        backoffMs = Math.min(2000, backoffMs * 2);
      }
    }
  }

  /**
   * This host's database node: PostgreSQL (under a keeper that outlives the agent only for its restart:
   * {@link DatabaseMember#RESTART_WINDOW}, a primary no longer than its lease) and the
   * member loop that decides through the cluster's leader lease whether it is the primary.
   */
  private void startDatabase(String password) {
    DataDir.writeSecret(dir.pgPassfile(), "*:*:*:" + spec.database().user() + ":" + password);
    java.util.Map<String, String> settings = new java.util.LinkedHashMap<>(
        WalArchiver.postgresSettings(dir.walSpool(), WalArchiver.DEFAULT_ARCHIVE_TIMEOUT));
    settings.putAll(DatabaseMember.settings(node.name(), node.address()));
    ClusterSpec.Tls tls = spec.tls();
    if (tls != null) {
      requireReadable("[tls] cert", tls.cert());
      requireReadable("[tls] key", tls.key());
      requireReadable("[tls] ca", tls.ca());
      settings.put("ssl", "on");
      settings.put("ssl_cert_file", Path.of(tls.cert()).toAbsolutePath().toString());
      settings.put("ssl_key_file", Path.of(tls.key()).toAbsolutePath().toString());
      settings.put("ssl_min_protocol_version", "TLSv1.2");
    }
    List<String> hosts = spec.nodes().stream().map(ClusterSpec.Node::address).filter(a -> !a.equals("127.0.0.1")).distinct().toList();
    pg = EmbeddedPostgres.builder().dataDir(dir.pgNode("pg")).port(node.ports().postgres()).user(spec.database().user())
        .password(password).logFile(dir.logs().resolve(node.name() + "-postgres.log")).settings(settings).clientHosts(hosts)
        .clientHostsOverTls(tls != null).keeper(dir.root().resolve("db-member/keeper-deadline")).build();
    List<DatabaseMember.Peer> peers = spec.running(Role.POSTGRES).stream().filter(n -> n != node)
        .map(n -> new DatabaseMember.Peer(n.name(), n.address(), n.ports().postgres())).toList();
    io.bulwark.core.blob.BlobStore archive = io.bulwark.core.blob.BlobStores.open(spec.archive().uri());
    DatabaseMember.Config config = new DatabaseMember.Config(new DatabaseMember.Peer(node.name(), node.address(), node.ports().postgres()),
        peers, "bulwark", password, dir.pgPassfile(), LeaderLease.Config.DEFAULT, dir.root().resolve("db-member"),
        tls == null ? null : Path.of(tls.ca()).toAbsolutePath());
    EmbeddedPostgres server = pg;
    PrimaryAccess local = new PrimaryAccess() {
      @Override
      public java.sql.Connection connect() throws java.sql.SQLException {
        return java.sql.DriverManager.getConnection(server.jdbcUrl("bulwark"), server.user(), password);
      }

      @Override
      public Path dataDir() {
        return server.dataDir();
      }
    };
    database = new DatabaseMember(config, pg, state.leases(Duration.ofSeconds(1)), state.keys(), archive,
        events.as("db-member"), () -> new BackupService(BackupService.Config.DEFAULTS, archive, dir.walSpool(),
            dir.root().resolve("verify-scratch"), password, null, local, dir.root().resolve("last-verification.json")));
    database.start();
  }

  private Component api(String password) {
    String name = node.name() + "-api";
    int port = node.ports().api();
    Component c = new Component(name, "api", port, "/health/ready", dir.logs().resolve(name + ".log").toFile(),
        () -> withDatabase(RoleProcess.command(dir, heap, "api", appArgs("--name", name, "--host", node.address(),
            "--port", Integer.toString(port))), password));
    c.healthHost = node.address();
    return c;
  }

  /** A gateway in front of every API server of the cluster, the one on this node first. */
  private Component gateway() {
    String name = node.name() + "-gateway";
    List<String> args = new ArrayList<>(List.of("--name", name, "--host", node.address(),
        "--port", Integer.toString(node.ports().gateway()), "--admin-port", Integer.toString(node.ports().gatewayAdmin())));
    List<ClusterSpec.Node> apis = new ArrayList<>(spec.running(Role.API));
    apis.sort((a, b) -> a == node ? -1 : b == node ? 1 : 0);
    for (ClusterSpec.Node a : apis) args.addAll(List.of("--backend", a.name() + "-api=http://" + a.address() + ":" + a.ports().api()));
    Component c = new Component(name, "gateway", node.ports().gateway(), "/health/ready", dir.logs().resolve(name + ".log").toFile(),
        () -> RoleProcess.command(dir, heap, "gateway", args));
    c.healthHost = node.address();
    c.adminPort = node.ports().gatewayAdmin();
    return c;
  }

  private Component worker(int i, String password) {
    String name = node.name() + "-worker-" + i;
    int port = node.ports().worker() + i - 1;
    return new Component(name, "worker", port, "/health/ready", dir.logs().resolve(name + ".log").toFile(),
        () -> withDatabase(RoleProcess.command(dir, heap, "worker", appArgs("--name", name, "--health-port", Integer.toString(port))),
            password));
  }

  public static final String STORAGE_REGION_KEY = "storage/region";
  static final String STORAGE_LEASE = "storage/leader";

  /**
   * Two storage regions: this host's processes read the region choice from a local file
   * ({@code DIR/storage/storage-region}), which this agent keeps equal to the cluster's in etcd
   * ({@value #STORAGE_REGION_KEY}) every second; and a region switcher probes both regions from here,
   * switching for the whole cluster only while this agent holds the lease {@value #STORAGE_LEASE}, so
   * exactly one agent decides.
   */
  private void startStorageRegions() {
    List<String[]> regions = new ArrayList<>();
    for (String r : spec.storage().regions()) regions.add(new String[] {r.substring(0, r.indexOf('=')), r.substring(r.indexOf('=') + 1)});
    io.bulwark.storage.RegionChoice local = new io.bulwark.storage.RegionChoice(dir.storageState().resolve("storage-region"), regions.get(0)[0]);
    List<io.bulwark.storage.ReplicatedBlobStore.Region> probed = new ArrayList<>();
    for (String[] r : regions) {
      probed.add(new io.bulwark.storage.ReplicatedBlobStore.Region(r[0],
          new io.bulwark.storage.DeferredBlobStore(r[1], () -> io.bulwark.core.blob.BlobStores.open(r[1]))));
    }
    io.bulwark.cluster.lease.LeaseStore leases = state.leases(Duration.ofSeconds(1));
    io.bulwark.cluster.lease.LeaderLease lease = new io.bulwark.cluster.lease.LeaderLease(io.bulwark.cluster.lease.LeaderLease.Config.DEFAULT);
    java.util.concurrent.atomic.AtomicReference<io.bulwark.cluster.lease.LeaseStore.Lease> held = new java.util.concurrent.atomic.AtomicReference<>();
    // the lease is renewed on the registrar thread and read by the switcher's: it publishes how long it may lead
    java.util.concurrent.atomic.AtomicLong leadUntil = new java.util.concurrent.atomic.AtomicLong(System.nanoTime());
    EventRecorder storageEvents = events.as("storage");
    regionSwitcher = new io.bulwark.storage.RegionSwitcher(probed, local, io.bulwark.storage.RegionSwitcher.Config.DEFAULTS, node.name(),
        (region, why) -> {
          state.keys().put(STORAGE_REGION_KEY, region + "\n" + java.time.Instant.now() + "\n" + why);
          storageEvents.record(io.bulwark.cluster.events.Event.Kinds.STORAGE_SWITCH, "writes now go to region " + region + ": " + why);
        },
        () -> System.nanoTime() - leadUntil.get() < 0);
    registrar.scheduleWithFixedDelay(() -> {
      try {
        long sent = System.nanoTime();
        io.bulwark.cluster.lease.LeaseStore.Lease l = held.get();
        if (l == null) {
          io.bulwark.cluster.lease.LeaseStore.Acquisition a = leases.tryAcquire(STORAGE_LEASE, node.name(), lease.config().ttl());
          if (a.succeeded()) {
            held.set(a.lease().orElseThrow());
            lease.acquired(sent);
          }
        } else if (leases.renew(l)) {
          lease.renewed(sent);
        } else {
          held.set(null);
          lease.lost();
        }
        long now = System.nanoTime();
        leadUntil.set(now + lease.remaining(now).toNanos());
        state.keys().get(STORAGE_REGION_KEY).ifPresent(v -> {
          String[] p = v.split("\n", 3);
          if (!p[0].equals(local.active())) local.switchTo(p[0], p.length > 2 ? p[2] : "switched in etcd");
        });
      } catch (RuntimeException e) {
        log.debug("storage region keeping: {}", e.toString()); // the last choice stays in force while etcd is away
      }
    }, 0, 1, TimeUnit.SECONDS);
    regionSwitcher.start();
  }

  /**
   * The DNS controller: every gateway of the cluster is a target, in the file's order; the leader
   * lease and the journal are the cluster's in etcd, so of the nodes that run it exactly one acts.
   */
  private Component dnsController() {
    String name = node.name() + "-dns";
    ClusterSpec.Dns d = spec.dns();
    int port = node.ports().dnsAdmin();
    List<String> args = new ArrayList<>(List.of("run", "--name", name, "--node", node.name(), "--record", d.name(), "--zone", d.zone(),
        "--type", d.type(), "--ttl", d.ttl() + "s", "--provider", d.provider(), "--admin-port", Integer.toString(port),
        "--etcd-prefix", spec.etcdPrefix()));
    for (String e : etcdEndpoints) args.addAll(List.of("--etcd-endpoint", e));
    for (ClusterSpec.Node g : spec.running(Role.GATEWAY)) {
      args.addAll(List.of("--gateway", g.name() + "-gateway=" + g.address() + ":" + g.ports().gateway()));
    }
    if (d.provider().equals("rfc2136")) {
      args.addAll(List.of("--server", d.server(), "--tsig-key-file", d.tsigKeyFile()));
    } else {
      args.addAll(List.of("--cloudflare-api", d.cloudflareApi(), "--cloudflare-zone-id", d.cloudflareZoneId(),
          "--cloudflare-token-file", d.cloudflareTokenFile()));
      if (d.proxied()) args.add("--proxied");
    }
    if (d.failback()) args.add("--failback");
    return new Component(name, "dns", port, "/health/ready", dir.logs().resolve(name + ".log").toFile(),
        () -> RoleProcess.command(dir, "64m", "dns", args));
  }

  /** The built-in monitor, watching the whole cluster through etcd; its incidents in this host's data directory. */
  private Component monitor() {
    if (clusterFile == null) throw new BulwarkException("node '" + node.name() + "' runs monitor, which needs the cluster file's path");
    String name = node.name() + "-monitor";
    int port = node.ports().monitorAdmin();
    List<String> args = new ArrayList<>(List.of("run", "--name", name, "--cluster", clusterFile.toAbsolutePath().toString(),
        "--node", node.name(), "--data-dir", dir.root().toString(), "--admin-port", Integer.toString(port)));
    for (String e : etcdEndpoints) args.addAll(List.of("--etcd-endpoint", e));
    if (spec.monitor() != null && spec.monitor().policy() != null) args.addAll(List.of("--policy", spec.monitor().policy()));
    return new Component(name, "monitor", port, "/health/ready", dir.logs().resolve(name + ".log").toFile(),
        () -> RoleProcess.command(dir, "48m", "monitor", args));
  }

  private List<String> appArgs(String... args) {
    List<String> all = new ArrayList<>(List.of("--jdbc-url", spec.jdbcUrl(), "--db-user", spec.database().user(),
        "--handlers-dir", dir.handlers().toString()));
    all.addAll(spec.storage().replicated() ? StorageLayout.flags(spec.storage().regions(), dir.storageState())
        : List.of("--blobs", spec.storage().blobs()));
    all.addAll(List.of(args));
    return all;
  }

  private static void requireReadable(String what, String file) {
    if (!java.nio.file.Files.isReadable(Path.of(file))) {
      throw new BulwarkException(what + " " + file + " cannot be read on this host; every host needs its own copy at the path the cluster file names");
    }
  }

  private static ProcessBuilder withDatabase(ProcessBuilder pb, String password) {
    pb.environment().put("BULWARK_DB_PASSWORD", password);
    return pb;
  }

  /**
   * Keeps the node's registration: renews its lease first (so a slow health probe can never let it
   * lapse), probes every component at once, and writes the result when it changed. Every second.
   */
  private void register() {
    try {
      registration.keepAlive();
      List<java.util.concurrent.CompletableFuture<Boolean>> health = new ArrayList<>();
      for (Component c : components) {
        health.add(c.alive() ? java.util.concurrent.CompletableFuture.supplyAsync(
            () -> c.healthy(1000), probes)
            : java.util.concurrent.CompletableFuture.completedFuture(false));
      }
      ObjectNode doc = JSON.createObjectNode().put("node", node.name()).put("address", node.address())
          .put("agentPid", ProcessHandle.current().pid()).put("startedAt", startedAt.toString()).put("clusterId", clusterId);
      ArrayNode list = doc.putArray("components");
      for (int i = 0; i < components.size(); i++) {
        Component c = components.get(i);
        list.addObject().put("name", c.name).put("role", c.role).put("pid", c.pid()).put("port", c.port)
            .put("alive", c.alive()).put("healthy", health.get(i).join()).put("restarts", c.restarts);
      }
      if (database != null) {
        DatabaseMember.Role r = database.role();
        boolean running = pg.isRunning();
        list.addObject().put("name", node.name() + "-postgres").put("role", "pg-" + r.name().toLowerCase(java.util.Locale.ROOT))
            .put("pid", running ? pg.pid() : -1).put("port", node.ports().postgres()).put("alive", running)
            .put("healthy", running && (r == DatabaseMember.Role.PRIMARY || r == DatabaseMember.Role.STANDBY))
            .put("restarts", 0).put("why", database.why()).put("synchronousStandby", database.synchronousStandby());
      }
      registration.publish(JSON.writeValueAsBytes(doc));
      if (gateway != null) followApiServers();
      if (lastRegistrationError != null) log.info("registration in etcd works again");
      lastRegistrationError = null;
    } catch (IOException | RuntimeException e) {
      // the components keep running: losing etcd must never take the node's service down
      if (!String.valueOf(e.getMessage()).equals(lastRegistrationError)) log.warn("cannot register in etcd: {}", e.getMessage());
      lastRegistrationError = String.valueOf(e.getMessage());
    }
  }

  /**
   * Keeps this node's gateway in front of every API server registered in etcd, not only those the
   * cluster file named when the gateway started: a new API host is in service on every gateway as
   * soon as its agent registers it, with no configuration change or restart anywhere else, and one
   * whose registration expired is taken out. The file's API servers stay (health checks judge them).
   */
  private void followApiServers() throws IOException {
    if (!gateway.alive()) return;
    if (gateway.pid() != discoveredFor) { // a restarted gateway knows only the file's servers
      discovered.clear();
      discoveredFor = gateway.pid();
    }
    java.util.Set<String> fromFile = new java.util.HashSet<>();
    for (ClusterSpec.Node a : spec.running(Role.API)) fromFile.add(a.name() + "-api");
    java.util.Map<String, String> registered = new java.util.HashMap<>();
    for (byte[] value : state.members().values()) {
      com.fasterxml.jackson.databind.JsonNode m = JSON.readTree(value);
      for (com.fasterxml.jackson.databind.JsonNode c : m.path("components")) {
        String name = c.path("name").asText();
        if (c.path("role").asText().equals("api") && !fromFile.contains(name)) {
          registered.put(name, "http://" + m.path("address").asText() + ":" + c.path("port").asInt());
        }
      }
    }
    String base = "http://127.0.0.1:" + node.ports().gatewayAdmin() + "/servers/"; // the admin API listens on loopback only
    for (java.util.Map.Entry<String, String> e : registered.entrySet()) {
      if (e.getValue().equals(discovered.get(e.getKey()))) continue;
      int status = adminCall(java.net.http.HttpRequest.newBuilder(URI.create(base + e.getKey()))
          .PUT(java.net.http.HttpRequest.BodyPublishers.ofString("{\"url\":\"" + e.getValue() + "\"}")));
      if (status == 200) {
        discovered.put(e.getKey(), e.getValue());
        events.record(Kinds.BACKEND_STATE, gateway.name + " added " + e.getKey() + " (" + e.getValue() + "), registered in etcd");
      }
    }
    for (String name : new java.util.ArrayList<>(discovered.keySet())) {
      if (registered.containsKey(name)) continue;
      int status = adminCall(java.net.http.HttpRequest.newBuilder(URI.create(base + name)).DELETE());
      if (status == 200 || status == 404) {
        discovered.remove(name);
        events.record(Kinds.BACKEND_STATE, gateway.name + " removed " + name + ": its registration in etcd expired");
      }
    }
  }

  private int adminCall(java.net.http.HttpRequest.Builder request) {
    try {
      return admin.send(request.timeout(Duration.ofSeconds(2)).build(), java.net.http.HttpResponse.BodyHandlers.discarding()).statusCode();
    } catch (IOException e) {
      return -1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -1;
    }
  }

  private String readPassword() {
    Path file = Path.of(spec.database().passwordFile());
    try {
      String password = Files.readString(file).strip();
      if (password.isEmpty()) throw new BulwarkException("the database password file " + file + " is empty");
      return password;
    } catch (IOException e) {
      throw new BulwarkException("cannot read the database password file " + file + " ([database] password-file): " + e.getMessage(), e);
    }
  }

  private Optional<String> readClusterId() {
    Path f = dir.root().resolve("cluster-id");
    try {
      return Files.exists(f) ? Optional.of(Files.readString(f).strip()) : Optional.empty();
    } catch (IOException e) {
      throw new BulwarkException("cannot read " + f + ": " + e.getMessage(), e);
    }
  }

  private void writeClusterId(String id) {
    try {
      io.bulwark.core.io.Fs.writeAtomically(dir.root().resolve("cluster-id"), id.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new BulwarkException("cannot write " + dir.root().resolve("cluster-id") + ": " + e.getMessage(), e);
    }
  }

  public List<Component> components() {
    return List.copyOf(components);
  }

  /** Stops the components (SIGTERM, then SIGKILL after 20 s) and deregisters the node at once. */
  @Override
  public void close() {
    registrar.shutdownNow();
    if (regionSwitcher != null) regionSwitcher.close();
    probes.shutdownNow();
    if (supervisor != null) {
      supervisor.stopRestarting();
      Supervisor.terminate(components, Duration.ofSeconds(20));
      supervisor.close();
    }
    if (database != null) database.close();
    events.record(Kinds.COMPONENT_EXIT, "agent of " + node.name() + " stopped");
    if (registration != null) registration.close();
    if (journal != null) journal.close(); // writes what is still queued (the last events) before the client goes
    if (state != null) state.close();
  }
}
