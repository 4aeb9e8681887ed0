package io.bulwark.dr;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.bulwark.cluster.events.Event.Kinds;
import io.bulwark.cluster.events.EventRecorder;
import io.bulwark.cluster.lease.LeaderLease;
import io.bulwark.cluster.lease.LeaseStore;
import io.bulwark.cluster.lease.LeaseStoreUnavailableException;
import io.bulwark.cluster.state.ClusterKeys;
import io.bulwark.core.blob.BlobStore;
import io.bulwark.core.io.Fs;
import io.bulwark.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One database node of a cluster, run by its host's agent: the PostgreSQL server (a child of the
 * agent that dies with it) and the loop that decides, through the cluster's leader lease in etcd,
 * whether it is the primary, a standby of the leader, or must be rebuilt from the archive. The
 * decisions are {@link MemberPolicy}'s; this class observes and carries them out.
 *
 * <p>Threads and their state: the <b>loop</b> thread (every {@link #TICK}) owns everything: the
 * lease, the server's role, replication, seeding; it also starts and stops the server, which dies
 * with the thread that started it. The <b>watchdog</b> thread (every 50 ms) only
 * reads the deadline up to which the lease is known to be ours ({@link #leadUntilNanos}) and kills
 * the primary the moment it passes, even while the loop is blocked on an etcd call that will not
 * answer: that is how a primary cut off from etcd stops accepting writes before anyone else can
 * take the lease (Patroni's rule, {@link LeaderLease}).
 *
 * <p>Keys (under the cluster's namespace): {@code db/leader} (the lease), {@code db/sync} (the
 * standby every acknowledged commit is on; written by the leader only after that standby is
 * synchronous and caught up, removed before writes stop waiting for it), {@code db/last-leader},
 * {@code db/initialize}, {@code db/seed} (the leader's base backup that new standbys restore).
 */
public final class DatabaseMember implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DatabaseMember.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  public static final String LEADER_KEY = "db/leader";
  public static final String SYNC_KEY = "db/sync";
  public static final String LAST_LEADER_KEY = "db/last-leader";
  public static final String INITIALIZE_KEY = "db/initialize";
  public static final String SEED_KEY = "db/seed";
  /** A planned switchover: the leader named here hands over to its synchronous standby ({@code bulwark db switchover}). */
  public static final String SWITCHOVER_KEY = "db/switchover";
  /**
   * How long a server outlives its agent for the agent's restart ({@link #close()}): a standby's, and
   * the lease a primary moves to when its agent stops (its keeper kills it {@code safetyMargin}
   * earlier). A restarted agent adopts the running server within it: no restart, no failover.
   */
  public static final Duration RESTART_WINDOW = Duration.ofSeconds(30);
  static final Duration TICK = Duration.ofMillis(250);
  private static final Duration WATCHDOG_EVERY = Duration.ofMillis(50);
  /** A standby that fails to start this many times in a row is rebuilt from the archive. */
  private static final int STANDBY_FAILURES_BEFORE_SEED = 3;
  /** A standby that runs but does not stream from a live leader for this long is rebuilt from the archive. */
  static final Duration NOT_STREAMING_BEFORE_SEED = Duration.ofSeconds(60);

  /** A database node of the cluster: how the others reach it. */
  public record Peer(String name, String address, int port) {}

  /** What the node is doing, for status and tests. */
  public enum Role { STARTING, PRIMARY, STANDBY, SEEDING, FENCED, WAITING }

  /**
   * @param self this node
   * @param peers the other database nodes
   * @param database the application database (created at bootstrap)
   * @param passfile libpq password file the standby streams with (written by the caller, 0600)
   * @param tlsRootCert when set, a standby streams over TLS and verifies the leader's certificate
   *     against it and the leader's address ({@code sslmode=verify-full}); null: no TLS
   */
  public record Config(Peer self, List<Peer> peers, String database, String password, Path passfile,
      LeaderLease.Config lease, Path stateDir, Path tlsRootCert) {}

  /**
   * A libpq connection-string value, quoted: a path with a space, a quote or a backslash in it stays
   * one value.
   */
  public static String conninfoValue(String v) {
    return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'";
  }

  private final Config config;
  private final EmbeddedPostgres pg;
  private final LeaseStore leases;
  private final ClusterKeys keys;
  private final BlobStore archive;
  private final EventRecorder events;
  private final java.util.function.Supplier<BackupService> backupFactory;
  private final ScheduledExecutorService loop =
      Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("db-member").factory());
  private final ScheduledExecutorService watchdog =
      Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("db-lease-watchdog").daemon().factory());
  private final LeaderLease leaderLease;

  // written by the loop; read by the watchdog and status
  private volatile long leadUntilNanos;
  private volatile boolean writable; // the server runs as a primary
  private volatile Role role = Role.STARTING;
  private volatile String lastWhy = "";
  private volatile String syncStandby; // what db/sync says, as this leader last wrote it
  private volatile boolean closing;

  // the loop's own
  private LeaseStore.Lease lease;
  private long lastRenewSent;
  private FailoverPolicy.Mode mode = FailoverPolicy.Mode.ASYNCHRONOUS;
  private String followed; // the conninfo the standby was last configured with
  private int standbyFailures;
  private BackupService backups;
  private Instant leadingSince;
  private CompletableFuture<BackupManifest> seedBackup;
  private boolean slotsMade;
  private boolean databaseEnsured; // this leadership has checked that the application database exists
  private String publishedSeed;
  private Connection admin;
  private long notStreamingSince; // while following: since when the standby has not been streaming (0: it is)
  private String lastAction = "";

  public DatabaseMember(Config config, EmbeddedPostgres pg, LeaseStore leases, ClusterKeys keys, BlobStore archive,
      EventRecorder events, java.util.function.Supplier<BackupService> backupFactory) {
    this.config = config;
    this.pg = pg;
    this.leases = leases;
    this.keys = keys;
    this.archive = archive;
    this.events = events;
    this.backupFactory = backupFactory;
    this.leaderLease = new LeaderLease(config.lease());
  }

  /** The PostgreSQL settings every database node of a cluster runs with (merge into the server's). */
  public static Map<String, String> settings(String self, String address) {
    Map<String, String> s = new LinkedHashMap<>();
    s.put("listen_addresses", address.equals("127.0.0.1") ? "127.0.0.1" : "127.0.0.1," + address);
    s.put("hot_standby", "on");
    s.put("primary_slot_name", FailoverController.slotName(self));
    s.put("wal_sender_timeout", "5s");
    s.put("wal_receiver_status_interval", "1s");
    s.put("wal_retrieve_retry_interval", "500ms");
    s.put("max_slot_wal_keep_size", "8GB");
    s.put("max_wal_senders", "10");
    s.put("max_replication_slots", "10");
    return s;
  }

  public void start() {
    if (pg.adoptRunning()) {
      // its keeper kept it running while this node's agent restarted; the first tick decides what it is now
      // (the leader continues its lease, a standby follows, a fenced or diverged one is killed and rebuilt);
      // until then its keeper's deadline stays what the agent before set (for a primary: within its lease)
      events.record("primary".equals(readLocal("role").orElse("")) ? Kinds.DB_PRIMARY : Kinds.DB_STANDBY,
          config.self().name() + "'s agent adopted its running PostgreSQL (pid " + pg.pid() + ") after a restart");
    }
    loop.scheduleWithFixedDelay(this::tick, 0, TICK.toMillis(), TimeUnit.MILLISECONDS);
    watchdog.scheduleWithFixedDelay(this::watch, WATCHDOG_EVERY.toMillis(), WATCHDOG_EVERY.toMillis(), TimeUnit.MILLISECONDS);
  }

  public Role role() {
    return role;
  }

  /** The standby named in db/sync by this node while it leads: every acknowledged commit is on it (null: none). */
  public String synchronousStandby() {
    return writable ? syncStandby : null;
  }

  /** Why the node is in its role (the last decision's reason). */
  public String why() {
    return lastWhy;
  }

  // ---------------------------------------------------------------- the watchdog

  private void watch() {
    if (writable && System.nanoTime() - leadUntilNanos > 0) {
      writable = false;
      long pid = pg.killOwner();
      role = Role.FENCED;
      String text = config.self().name() + " stopped accepting writes: its leader lease could not be renewed in time"
          + " (killed the primary, pid " + pid + ")";
      log.warn(text);
      events.record(Kinds.DB_FENCE, text);
    }
  }

  // ---------------------------------------------------------------- the loop

  private void tick() {
    if (closing) return;
    try {
      tickOnce();
    } finally {
      holdServer();
    }
  }

  /**
   * Tells the server's keeper how long it may outlive this agent: a primary no longer than its lease
   * is known to be ours (the keeper is then the watchdog of last resort, for an agent that died or
   * hangs); a standby, or no server, for {@link #RESTART_WINDOW}. A server this agent adopted and has
   * not yet made its primary or standby keeps the deadline the agent before it set.
   */
  private void holdServer() {
    try {
      if (writable) {
        pg.holdFor(Duration.ofNanos(Math.max(0, leadUntilNanos - System.nanoTime())));
      } else if (role == Role.STANDBY || !pg.isRunning()) {
        pg.holdFor(RESTART_WINDOW);
      }
    } catch (RuntimeException e) {
      log.error("{}: {}", config.self().name(), e.getMessage()); // the keeper kills the server when its deadline passes
    }
  }

  private void tickOnce() {
    try {
      if (!writable) closeBackups(); // the watchdog fenced the primary: only a primary archives and backs up
      renewLease();
      MemberPolicy.View view;
      try {
        view = new MemberPolicy.View(config.self().name(), leases.holder(LEADER_KEY), leading(), keys.get(SYNC_KEY),
            keys.get(LAST_LEADER_KEY), keys.get(INITIALIZE_KEY), local());
      } catch (LeaseStoreUnavailableException e) {
        note("etcd does not answer (" + e.getMessage() + "); a leader keeps its lease until the watchdog's deadline");
        return;
      }
      MemberPolicy.Action action = MemberPolicy.decide(view);
      act(action);
    } catch (RuntimeException e) {
      log.error("{}: {}", config.self().name(), e.getMessage(), e);
      note("error: " + e.getMessage());
    }
  }

  private boolean leading() {
    return lease != null && leaderLease.verdict(System.nanoTime()) == LeaderLease.Verdict.LEAD;
  }

  private void renewLease() {
    if (lease == null) return;
    long sent = System.nanoTime();
    if (sent - lastRenewSent < config.lease().renewEvery().toNanos()) return;
    lastRenewSent = sent;
    try {
      if (leases.renew(lease)) {
        leaderLease.renewed(sent);
      } else {
        leaderLease.lost();
      }
    } catch (LeaseStoreUnavailableException e) {
      // unknown: the lease ages; the watchdog acts when it must
    }
    publishDeadline();
  }

  private void publishDeadline() {
    leadUntilNanos = System.nanoTime() + leaderLease.remaining(System.nanoTime()).toNanos();
    if (writable) holdServer();
  }

  private void act(MemberPolicy.Action action) {
    if (!(action instanceof MemberPolicy.Action.Lead)) closeBackups(); // only the primary archives and backs up
    switch (action) {
      case MemberPolicy.Action.Lead l -> lead();
      case MemberPolicy.Action.StepDown s -> stepDown(s.why());
      case MemberPolicy.Action.Adopt a -> adopt();
      case MemberPolicy.Action.Bootstrap b -> bootstrap();
      case MemberPolicy.Action.TakeOver t -> takeOver(t.why());
      case MemberPolicy.Action.Follow f -> follow(f.leader());
      case MemberPolicy.Action.Seed s -> seed(s.leader(), s.why());
      case MemberPolicy.Action.Wait w -> {
        if (writable || pg.isRunning() && role != Role.STANDBY) stepDown(w.why());
        if (role != Role.STANDBY) role = Role.WAITING;
        note(w.why());
      }
    }
  }

  // ---------------------------------------------------------------- leading

  private boolean acquire() {
    long sent = System.nanoTime();
    LeaseStore.Acquisition a = leases.tryAcquire(LEADER_KEY, config.self().name(), config.lease().ttl());
    if (!a.succeeded()) return false;
    lease = a.lease().get();
    lastRenewSent = sent;
    leaderLease.acquired(sent);
    publishDeadline();
    writeLocal("lease-id", Long.toString(lease.id()));
    return true;
  }

  private void bootstrap() {
    if (!keys.putIfAbsent(INITIALIZE_KEY, config.self().name())) return; // another node won: next tick follows it
    long began = System.nanoTime();
    // initdb first, without the lease: it takes seconds on a busy host, during which this thread renews
    // nothing, and a lease taken before it would run out under the new primary (the watchdog fences it)
    pg.initIfNeeded();
    if (!acquire()) return;
    becomeLeader("initialized the cluster's database");
    ensureDatabase();
    events.record(Kinds.DB_PRIMARY, config.self().name() + " initialized the cluster's database and leads it ("
        + (System.nanoTime() - began) / 1_000_000 + " ms)");
  }

  /**
   * Creates the application database on the primary if it is not there. Checked once per leadership
   * (not only at bootstrap: a bootstrap interrupted between initdb and this step, e.g. fenced, would
   * otherwise leave a cluster without it, and every base backup failing).
   */
  private void ensureDatabase() {
    if (databaseEnsured) return;
    try (Connection c = connect("postgres"); Statement st = c.createStatement()) {
      try (ResultSet rs = st.executeQuery("SELECT 1 FROM pg_database WHERE datname = '" + config.database() + "'")) {
        if (!rs.next()) {
          st.execute("CREATE DATABASE " + config.database());
          log.info("{}: created database {}", config.self().name(), config.database());
        }
      }
      databaseEnsured = true;
    } catch (SQLException e) {
      note("cannot create database " + config.database() + " yet: " + e.getMessage()); // the next tick tries again
    }
  }

  private void takeOver(String why) {
    long began = System.nanoTime();
    if (!acquire()) return;
    becomeLeader(why);
    events.record(Kinds.DB_FAILOVER, config.self().name() + " took over as primary: " + why + " (promoted in "
        + (System.nanoTime() - began) / 1_000_000 + " ms after acquiring the lease)");
  }

  /**
   * The leader key names this node but its lease is not confirmed (an earlier run of its agent, or an
   * outage of etcd that the lease outlived: etcd extends every lease when it regains a leader):
   * continue that lease if it lives.
   */
  private void adopt() {
    Optional<String> id = readLocal("lease-id");
    if (id.isEmpty()) {
      note("the leader key names this node from an earlier run; waiting for it to expire");
      return;
    }
    long sent = System.nanoTime();
    LeaseStore.Lease earlier = new LeaseStore.Lease(LEADER_KEY, config.self().name(), Long.parseLong(id.get()), config.lease().ttl());
    // the lease the agent left (RESTART_WINDOW long), moved back to the usual ttl: a host lost from now on
    // fails over as fast as ever
    Optional<LeaseStore.Lease> continued = leases.renew(earlier) ? leases.rehold(earlier, config.lease().ttl()) : Optional.empty();
    if (continued.isPresent()) {
      lease = continued.get();
      writeLocal("lease-id", Long.toString(lease.id()));
      lastRenewSent = sent;
      leaderLease.acquired(sent);
      publishDeadline();
      becomeLeader("continued its lease, which etcd still holds for it");
      events.record(Kinds.DB_PRIMARY, config.self().name() + " continues as primary: its lease outlived the interruption");
    } else {
      note("the leader key names this node from an earlier run; waiting for it to expire");
    }
  }

  /**
   * The lease is ours: make the cluster's keys say so (last leader; no synchronous standby until one
   * is caught up with this primary), then run the server as a writable primary.
   */
  private void becomeLeader(String why) {
    keys.put(LAST_LEADER_KEY, config.self().name());
    keys.delete(SYNC_KEY);
    syncStandby = null;
    mode = FailoverPolicy.Mode.ASYNCHRONOUS;
    pg.writeRuntimeSettings(Map.of("synchronous_standby_names", ""));
    boolean running = pg.isRunning();
    boolean wasStandby = !readLocal("role").orElse("standby").equals("primary")
        && Files.exists(pg.dataDir().resolve("standby.signal"));
    if (!running && wasStandby) {
      pg.start(); // as the standby it was, then promoted: a new timeline, never the old primary's
      running = true;
    }
    writeLocal("role", "primary");
    if (leaderLease.verdict(System.nanoTime()) != LeaderLease.Verdict.LEAD) {
      note("the lease ran out while the server started; not promoting it"); // the next tick decides again
      return;
    }
    // From here the watchdog guards the server: should the lease run out during or after the
    // promotion, it kills the server; it never becomes writable unguarded. So does its keeper,
    // should this agent die: it lets the server live no longer than the lease.
    writable = true;
    holdServer();
    if (running && inRecovery()) {
      promote();
    } else if (!running) {
      try {
        Files.deleteIfExists(pg.dataDir().resolve("standby.signal"));
      } catch (IOException e) {
        throw new DrException("cannot remove standby.signal from " + pg.dataDir() + ": " + e, e);
      }
      pg.start();
    }
    // a server that was running (promoted just now, or already primary) has the settings written above
    // only after a reload: promotion does not re-read the configuration, and a synchronous_standby_names
    // read earlier would make the new primary's commits wait for a standby it has not got
    if (running) reload();
    role = Role.PRIMARY;
    leadingSince = Instant.now();
    slotsMade = false;
    databaseEnsured = false;
    seedBackup = null;
    followed = null;
    note(why);
    log.info("{} is the primary: {}", config.self().name(), why);
  }

  private void lead() {
    Optional<String> switchover = keys.get(SWITCHOVER_KEY);
    if (switchover.isPresent() && switchover.get().equals(config.self().name()) && writable) {
      handOver();
      return;
    }
    if (!writable) {
      // the server died, or this node led before: run it again as the primary (crash recovery loses nothing)
      becomeLeader(pg.isRunning() ? "leading" : "restarted the primary after it stopped");
    } else if (!pg.isRunning()) {
      writable = false;
      events.record(Kinds.COMPONENT_EXIT, "primary " + config.self().name() + " exited; restarting it in place");
      becomeLeader("restarted the primary after it exited");
    }
    ensureDatabase();
    if (!slotsMade) {
      for (Peer p : config.peers()) ensureSlot(FailoverController.slotName(p.name()));
      slotsMade = true;
    }
    if (backups == null) {
      backups = backupFactory.get();
      backups.start();
    }
    if (seedBackup == null) {
      Instant since = leadingSince;
      seedBackup = backups.backupSince(since).whenComplete((m, e) -> {
        if (e != null) return;
        loop.execute(() -> publishSeed(m));
      });
    } else if (seedBackup.isCompletedExceptionally()) {
      seedBackup = null; // retried next tick
    } else if (seedBackup.isDone()) {
      // each newer base backup becomes the seed: retention prunes old ones, and a seed from a recent
      // backup replays less WAL
      // (from the schedule's catalog in memory: this runs every tick)
      backups.newestBackup().filter(b -> !b.label().equals(publishedSeed)).ifPresent(this::publishSeed);
    }
    replication();
  }

  private void publishSeed(BackupManifest m) {
    if (!writable) return;
    try {
      keys.put(SEED_KEY, JSON.createObjectNode().put("leader", config.self().name()).put("backup", m.label()).toString());
      publishedSeed = m.label();
      log.info("standbys seed from backup {}", m.label());
    } catch (LeaseStoreUnavailableException e) {
      seedBackup = null; // published again next tick
    }
  }

  /** Keeps one standby synchronous, and db/sync naming it only while every acknowledged commit is on it. */
  private void replication() {
    String standby = null;
    FailoverPolicy.Sample sample;
    try (Statement st = admin().createStatement();
        ResultSet rs = st.executeQuery("SELECT application_name, state, sync_state, flush_lsn, pg_current_wal_lsn()"
            + " FROM pg_stat_replication RIGHT JOIN (SELECT 1) one ON true ORDER BY (state = 'streaming') DESC NULLS LAST LIMIT 1")) {
      rs.next();
      standby = rs.getString(1);
      sample = new FailoverPolicy.Sample(rs.getString(2), rs.getString(3), rs.getString(4) == null ? null : Lsn.parse(rs.getString(4)),
          Lsn.parse(rs.getString(5)));
    } catch (SQLException e) {
      closeAdmin();
      note("cannot read replication state: " + e.getMessage());
      return;
    }
    String name = standby != null ? standby : config.peers().isEmpty() ? "(none)" : config.peers().get(0).name();
    FailoverPolicy.Transition t = FailoverPolicy.replication(true, 0, mode, sample, name);
    switch (t.change()) {
      case TO_SYNCHRONOUS -> setSynchronous(name);
      case TO_ASYNCHRONOUS -> {
        keys.delete(SYNC_KEY); // first: if etcd does not take it, writes keep waiting for the standby
        syncStandby = null;
        setSynchronous(null);
      }
      case NONE -> {}
    }
    if (t.next().eligible() && !mode.eligible()) {
      keys.put(SYNC_KEY, name);
      syncStandby = name;
    }
    mode = t.next();
    if (t.event() != null) events.record(Kinds.DB_REPLICATION, t.event());
  }

  private void setSynchronous(String standby) {
    pg.writeRuntimeSettings(Map.of("synchronous_standby_names", standby == null ? "" : "\"" + standby + "\""));
    reload();
  }

  private void stepDown(String why) {
    closeAdmin();
    boolean was = writable || role == Role.PRIMARY;
    writable = false;
    if (pg.isRunning() || was) pg.killOwner();
    try {
      Fs.touchSynced(pg.dataDir().resolve("standby.signal"));
    } catch (IOException e) {
      log.error("cannot write standby.signal into {}: {}", pg.dataDir(), e.toString());
    }
    if (lease != null) {
      try {
        leases.release(lease);
      } catch (LeaseStoreUnavailableException e) {
        // it expires by itself
      }
    }
    lease = null;
    leaderLease.lost();
    publishDeadline();
    closeBackups();
    role = Role.FENCED;
    note(why);
    if (was) events.record(Kinds.DB_FENCE, config.self().name() + " stepped down: " + why);
  }

  // ---------------------------------------------------------------- following

  private void follow(String leader) {
    Peer p = peer(leader);
    String conninfo = "host=" + conninfoValue(p.address()) + " port=" + p.port() + " user=" + conninfoValue(pg.user())
        + " passfile=" + conninfoValue(config.passfile().toString()) + " application_name=" + conninfoValue(config.self().name())
        + " connect_timeout=2"
        + (config.tlsRootCert() == null ? "" : " sslmode=verify-full sslrootcert=" + conninfoValue(config.tlsRootCert().toString()));
    try {
      if (!conninfo.equals(followed) || !pg.isRunning()) {
        notStreamingSince = 0; // a new leader, or a fresh start: give it time to connect
        Fs.touchSynced(pg.dataDir().resolve("standby.signal"));
        pg.writeRuntimeSettings(Map.of("primary_conninfo", conninfo, "synchronous_standby_names", ""));
      }
      if (!pg.isRunning()) {
        pg.start();
        events.record(Kinds.DB_STANDBY, config.self().name() + " runs as a standby of " + leader);
      } else if (!conninfo.equals(followed)) {
        reload();
        events.record(Kinds.DB_STANDBY, config.self().name() + " now streams from " + leader);
      }
      followed = conninfo;
      standbyFailures = 0;
      role = Role.STANDBY;
      if (streaming()) {
        notStreamingSince = 0;
        note("standby of " + leader);
      } else if (notStreamingSince == 0) {
        notStreamingSince = System.nanoTime();
      } else if (System.nanoTime() - notStreamingSince > NOT_STREAMING_BEFORE_SEED.toNanos()) {
        // running but unable to follow this leader (e.g. its history forked before what this node replayed)
        notStreamingSince = 0;
        writeLocal("role", "rebuild");
        events.record(Kinds.DB_REBUILD, config.self().name() + " has not streamed from " + leader + " for "
            + NOT_STREAMING_BEFORE_SEED.toSeconds() + " s while it leads; rebuilding it from the archive");
      } else {
        note("standby of " + leader + ", not streaming yet");
      }
    } catch (IOException | RuntimeException e) {
      standbyFailures++;
      pg.killOwner();
      note("standby did not start (" + e.getMessage().lines().findFirst().orElse("") + ")");
      if (standbyFailures >= STANDBY_FAILURES_BEFORE_SEED) {
        writeLocal("role", "rebuild"); // the policy seeds a node whose state says it must be rebuilt
        standbyFailures = 0;
      }
    }
  }

  private void seed(String leader, String why) {
    Optional<String> seed = keys.get(SEED_KEY);
    JsonNode s = seed.map(DatabaseMember::json).orElse(null);
    if (s == null || !leader.equals(s.path("leader").asText())) {
      role = Role.WAITING;
      note("to seed from the archive (" + why + "): waiting for " + leader + "'s base backup");
      return;
    }
    role = Role.SEEDING;
    writable = false;
    closeAdmin();
    pg.killOwner();
    String label = s.path("backup").asText();
    StandbySeed.Result r = StandbySeed.seed(archive, label, pg.dataDir());
    writeLocal("role", "standby");
    followed = null;
    events.record(Kinds.DB_REBUILD, config.self().name() + " seeded from backup " + label + " in the archive (" + why + "; "
        + (r.dataBytes() + r.walBytes()) / (1 << 20) + " MiB, " + r.walFiles() + " WAL files, " + r.took().toMillis() + " ms)");
  }

  // ---------------------------------------------------------------- helpers

  private MemberPolicy.Local local() {
    String r = readLocal("role").orElse(pg.isInitialized() && !Files.exists(pg.dataDir().resolve("standby.signal")) ? "primary" : "standby");
    return new MemberPolicy.Local(pg.isInitialized() && !r.equals("rebuild"), r.equals("primary"));
  }

  private Peer peer(String name) {
    if (name.equals(config.self().name())) return config.self();
    return config.peers().stream().filter(p -> p.name().equals(name)).findFirst()
        .orElseThrow(() -> new DrException("the leader key names '" + name + "', which is not a database node of this cluster"));
  }

  /** Whether this standby's WAL receiver streams from its primary now. */
  private boolean streaming() {
    try (Statement st = admin().createStatement(); ResultSet rs = st.executeQuery("SELECT status FROM pg_stat_wal_receiver")) {
      return rs.next() && "streaming".equals(rs.getString(1));
    } catch (SQLException e) {
      closeAdmin();
      return false;
    }
  }

  /**
   * The loop's own connection for its checks (every tick, so kept open rather than opened each time);
   * closed on any error and opened again at the next use. Only the loop thread uses it.
   */
  private Connection admin() throws SQLException {
    if (admin == null || admin.isClosed()) admin = connect("postgres");
    return admin;
  }

  private void closeAdmin() {
    if (admin != null) {
      try {
        admin.close();
      } catch (SQLException ignored) {
        // it is going away either way
      }
      admin = null;
    }
  }

  private boolean inRecovery() {
    try (Connection c = connect("postgres"); Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT pg_is_in_recovery()")) {
      rs.next();
      return rs.getBoolean(1);
    } catch (SQLException e) {
      throw new DrException("cannot ask " + config.self().name() + " whether it is in recovery: " + e.getMessage(), e);
    }
  }

  private void promote() {
    try (Connection c = connect("postgres"); Statement st = c.createStatement()) {
      try (ResultSet rs = st.executeQuery("SELECT pg_promote(true, 60)")) {
        rs.next();
        if (!rs.getBoolean(1)) throw new DrException("pg_promote did not finish within 60 s on " + config.self().name());
      }
      st.execute("SELECT pg_reload_conf()");
    } catch (SQLException e) {
      throw new DrException("cannot promote " + config.self().name() + ": " + e.getMessage(), e);
    }
  }

  private void reload() {
    try (Connection c = connect("postgres"); Statement st = c.createStatement()) {
      st.execute("SELECT pg_reload_conf()");
    } catch (SQLException e) {
      throw new DrException("cannot reload the configuration of " + config.self().name() + ": " + e.getMessage(), e);
    }
  }

  private void ensureSlot(String slot) {
    try (Connection c = connect("postgres");
        PreparedStatement st = c.prepareStatement("SELECT pg_create_physical_replication_slot(?, true)"
            + " WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = ?)")) {
      st.setString(1, slot);
      st.setString(2, slot);
      st.execute();
    } catch (SQLException e) {
      throw new DrException("cannot create replication slot " + slot + ": " + e.getMessage(), e);
    }
  }

  private Connection connect(String database) throws SQLException {
    java.util.Properties p = new java.util.Properties();
    p.setProperty("user", pg.user());
    p.setProperty("password", config.password());
    p.setProperty("connectTimeout", "3");
    p.setProperty("socketTimeout", "70");
    p.setProperty("ApplicationName", "bulwark-agent");
    return DriverManager.getConnection(pg.jdbcUrl(database), p);
  }

  private void note(String why) {
    lastWhy = why;
    if (!why.equals(lastAction)) log.info("{}: {}", config.self().name(), why);
    lastAction = why;
  }

  private Optional<String> readLocal(String name) {
    Path f = config.stateDir().resolve(name);
    try {
      return Files.exists(f) ? Optional.of(Files.readString(f, StandardCharsets.UTF_8).strip()) : Optional.empty();
    } catch (IOException e) {
      throw new DrException("cannot read " + f + ": " + e, e);
    }
  }

  private void writeLocal(String name, String value) {
    Path f = config.stateDir().resolve(name);
    try {
      Files.createDirectories(config.stateDir());
      Fs.writeAtomically(f, value.getBytes(StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new DrException("cannot write " + f + ": " + e, e);
    }
  }

  private static JsonNode json(String s) {
    try {
      return JSON.readTree(s);
    } catch (IOException e) {
      return null;
    }
  }

  private void closeBackups() {
    if (backups != null) {
      backups.close();
      backups = null;
    }
    seedBackup = null;
  }

  /**
   * Stops deciding and leaves the server running under its keeper for this agent's restart ({@link
   * #RESTART_WINDOW}): a restarted agent adopts it (no restart of PostgreSQL, no failover). A leader
   * first moves its leadership onto a lease of that length, and its keeper kills the server before
   * that lease can expire; if no agent comes back, the standby takes over as after a crash (for a
   * planned stop of the primary's host, {@code bulwark db switchover} first).
   */
  @Override
  public void close() {
    closing = true; // no tick decides anything from now on
    CompletableFuture<Void> left = new CompletableFuture<>();
    try {
      loop.execute(() -> {
        try {
          leaveRunning();
          left.complete(null);
        } catch (Throwable t) {
          left.completeExceptionally(t);
        }
      });
      left.get(30, TimeUnit.SECONDS);
    } catch (java.util.concurrent.RejectedExecutionException | java.util.concurrent.ExecutionException
        | java.util.concurrent.TimeoutException e) {
      log.warn("{}: leaving the database node did not finish cleanly: {}", config.self().name(), e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    loop.shutdown();
    try {
      loop.awaitTermination(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void leaveRunning() {
    closeAdmin();
    closeBackups();
    if (!pg.isRunning()) {
      watchdog.shutdownNow();
      return;
    }
    Duration hold = RESTART_WINDOW;
    if (writable) {
      hold = rehold().orElseGet(() -> Duration.ofNanos(Math.max(0, leadUntilNanos - System.nanoTime()))); // or what the lease allows now
    }
    // the watchdog stops with this agent; from here the keeper alone bounds the server's life
    pg.holdFor(hold);
    watchdog.shutdownNow();
    events.record(writable ? Kinds.DB_PRIMARY : Kinds.DB_STANDBY, config.self().name() + "'s agent stops; its "
        + (writable ? "primary" : "server") + " (pid " + pg.pid() + ") keeps running for " + hold.toMillis()
        + " ms for the agent's restart, then is stopped");
  }

  /**
   * Moves this leader's key onto a lease of {@link #RESTART_WINDOW} for the agent's restart, trying
   * again while the current lease is known to be ours (etcd may be slow to answer for a moment, and a
   * failed attempt would shrink the window to what is left of the lease). The watchdog still guards
   * the server meanwhile.
   *
   * @return how long the keeper may hold the server under the new lease (its ttl less the safety
   *     margin, counted from before the request was sent); empty when it could not be moved
   */
  private Optional<Duration> rehold() {
    while (lease != null && leading()) {
      long sent = System.nanoTime();
      try {
        Optional<LeaseStore.Lease> longer = leases.rehold(lease, RESTART_WINDOW);
        if (longer.isEmpty()) return Optional.empty(); // the key is not ours any more
        lease = longer.get();
        writeLocal("lease-id", Long.toString(lease.id()));
        return Optional.of(RESTART_WINDOW.minus(config.lease().safetyMargin()).minusNanos(System.nanoTime() - sent));
      } catch (LeaseStoreUnavailableException e) {
        log.warn("{}: cannot move the leader lease for the restart yet ({}); trying again while the lease lasts",
            config.self().name(), e.getMessage());
        LockSupport.parkNanos(TICK.toNanos() / 2);
      }
    }
    return Optional.empty();
  }

  /**
   * A planned switchover ({@value #SWITCHOVER_KEY} names this leader): stops the server cleanly, so
   * that its synchronous standby has every record of it, releases the lease so that the standby takes
   * over at once, and rejoins as that standby's standby without a rebuild. Refused (the key removed,
   * the refusal in the journal) without a synchronous standby to hand over to.
   */
  private void handOver() {
    String standby = syncStandby;
    if (standby == null) {
      keys.delete(SWITCHOVER_KEY);
      events.record(Kinds.DB_PRIMARY, config.self().name() + " refused a switchover: it has no synchronous standby that holds"
          + " every acknowledged commit");
      return;
    }
    long began = System.nanoTime();
    closeAdmin();
    closeBackups();
    stopServer();
    keys.delete(SWITCHOVER_KEY);
    role = Role.WAITING;
    followed = null;
    note("handed over to " + standby + " (switchover)");
    events.record(Kinds.DB_FAILOVER, config.self().name() + " handed over to " + standby + " in a switchover (stopped cleanly in "
        + (System.nanoTime() - began) / 1_000_000 + " ms)");
  }

  private void stopServer() {
    boolean led = writable;
    String standby = syncStandby;
    writable = false;
    pg.stop();
    if (led && standby != null && !Files.exists(pg.dataDir().resolve("postmaster.pid"))) {
      // A clean shutdown while a synchronous standby streamed: PostgreSQL's WAL senders send everything
      // up to the shutdown checkpoint before they exit, so the standby, promoted next, forks its
      // timeline after this node's last record, and this node can follow it without a rebuild (had it
      // not received it all, this node would not stream, and is rebuilt after a minute).
      try {
        Fs.touchSynced(pg.dataDir().resolve("standby.signal"));
        writeLocal("role", "standby");
        events.record(Kinds.DB_PRIMARY, config.self().name() + " stopped cleanly and hands over to " + standby
            + ", its synchronous standby; it will rejoin as its standby");
      } catch (IOException | RuntimeException e) {
        log.warn("{}: cannot mark the data directory for rejoining as a standby ({}); it will be rebuilt", config.self().name(),
            e.toString());
      }
    }
    if (lease != null) {
      try {
        leases.release(lease);
      } catch (LeaseStoreUnavailableException e) {
        // expires by itself
      }
      lease = null;
    }
    leaderLease.lost();
    syncStandby = null;
  }
}
