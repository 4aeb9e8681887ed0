package io.bulwark.dr;

import io.bulwark.core.io.Fs;
import io.bulwark.cluster.events.Event.Kinds;
import io.bulwark.cluster.events.EventRecorder;
import io.bulwark.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs two PostgreSQL nodes as a primary and a hot standby, and keeps one of them accepting writes.
 *
 * <ul>
 *   <li><b>Replication mode</b> (Patroni's {@code synchronous_mode}): while the standby streams,
 *       the primary's {@code synchronous_standby_names} names it, so every acknowledged commit is
 *       also on the standby; when it stops streaming, the standby is first marked ineligible for
 *       promotion, then the primary is switched to asynchronous so that writes never block on a
 *       dead standby. It becomes eligible again only once it is synchronous and has flushed
 *       everything the primary had written when synchronous mode was turned back on.
 *   <li><b>Failover</b>: a primary whose process has exited, or that fails {@link
 *       Config#failAfter()} checks in a row, is <b>fenced</b> (SIGKILL; {@code standby.signal} and
 *       a rebuild marker written into its data directory, so that whatever starts it can only start
 *       a read-only standby), the new primary is recorded in {@link HaState}, then the standby is
 *       promoted. Only an eligible standby is promoted: otherwise promotion could lose acknowledged
 *       commits, and the controller restarts the old primary instead (crash recovery).
 *   <li><b>Rejoin</b>: a fenced node is rebuilt from a fresh base backup of the new primary and
 *       starts streaming; its history may have diverged, so it is never reused as it is.
 * </ul>
 *
 * <p>The rules are pure functions ({@link FailoverPolicy}); this class observes, asks them, and
 * carries out the answer. All decisions are taken, and all state is written, on one thread (the
 * monitor), so they never race; rebuilds run on a second thread and hand their outcome back to the
 * monitor. Clients find the primary themselves: their JDBC URL lists both nodes with {@code
 * targetServerType=primary}.
 */
public final class FailoverController implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(FailoverController.class);

  /** Written with standby.signal into a fenced node: its history may have diverged; rebuild before use. */
  public static final String REBUILD_MARKER = "bulwark-rebuild-required";
  private static final int MAX_EVENTS = 20;
  /** A standby that runs but does not stream for this long is rebuilt (e.g. it needs WAL the primary no longer has). */
  static final Duration NOT_STREAMING_REBUILD = Duration.ofSeconds(30);

  /**
   * @param checkInterval how often the primary is checked (default 250 ms)
   * @param failAfter failed checks in a row that make an unreachable primary dead (default 4: a
   *     hung primary is declared dead after about 4-5 s); a primary whose process exited is dead at
   *     once
   * @param checkTimeout connect and query timeout of one check (default 1 s)
   * @param synchronous synchronous replication while the standby is healthy (default true)
   * @param maxLagOnFailover with synchronous off: the most WAL (bytes) a standby may lag and still be
   *     promoted (Patroni's maximum_lag_on_failover, default 1 MiB)
   */
  public record Config(Duration checkInterval, int failAfter, Duration checkTimeout, boolean synchronous,
      long maxLagOnFailover) {
    public static Config defaults() {
      return new Config(Duration.ofMillis(250), 4, Duration.ofSeconds(1), true, 1024 * 1024);
    }
  }

  /** The last completed failover or switchover. */
  public record Failover(Instant at, String from, String to, String reason, long detectedToPromotedMillis,
      boolean planned) {}

  /** One node as seen by the controller. */
  public record NodeStatus(String name, NodeRole role, long pid, int port, Long timeline, boolean alive) {}

  /** Everything {@code bulwark db status} shows about the cluster. */
  public record Status(String primary, String standby, List<NodeStatus> nodes, String replicationMode,
      boolean standbyEligible, String standbyState, Long lagBytes, Double lagSeconds, Failover lastFailover,
      long failovers, List<String> events) {}

  private final DbNode[] nodes;
  private final Path stateFile;
  private final String user;
  private final String password;
  private final ReplicationRole replication;
  private final Config config;
  private final ScheduledExecutorService monitor =
      Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("db-failover-controller").factory());
  private final ExecutorService rebuilder =
      Executors.newSingleThreadExecutor(Thread.ofPlatform().daemon().name("db-standby-rebuild").factory());
  private final Deque<String> events = new ArrayDeque<>();
  private final EventRecorder journal;

  // owned by the monitor thread (volatile for status readers)
  private volatile HaState state;
  private volatile DbNode primary;
  private volatile DbNode standby;
  private volatile NodeRole standbyRole = NodeRole.DOWN;
  private volatile FailoverPolicy.Mode mode = FailoverPolicy.Mode.ASYNCHRONOUS;
  private volatile String standbyState = "none";
  private volatile Long lagBytes;
  private volatile Double lagSeconds;
  private volatile Long primaryTimeline;
  private volatile Failover lastFailover;
  private volatile long failovers;
  private volatile boolean rebuilding;
  private volatile boolean closed;
  private int failedChecks;
  private Connection monitorConnection;
  private int standbyStartFailures;
  private long notStreamingSince;
  private int primaryStartFailures;
  private long nextPrimaryStart = System.nanoTime();
  private long nextStandbyStart = System.nanoTime();

  public FailoverController(DbNode a, DbNode b, Path stateFile, String user, String password, Config config) {
    this(a, b, stateFile, user, password, config, EventRecorder.NONE);
  }

  /** @param journal where failovers, fencings, rebuilds and replication changes are recorded */
  public FailoverController(DbNode a, DbNode b, Path stateFile, String user, String password, Config config,
      EventRecorder journal) {
    this(a, b, stateFile, user, password, config, journal, null);
  }

  /**
   * @param replication the role standbys stream as (their {@code primary_conninfo} names it), made on
   *     the primary before any standby needs it; null: they stream as {@code user}
   */
  public FailoverController(DbNode a, DbNode b, Path stateFile, String user, String password, Config config,
      EventRecorder journal, ReplicationRole replication) {
    this.replication = replication;
    this.journal = journal;
    this.nodes = new DbNode[] {a, b};
    this.stateFile = stateFile;
    this.user = user;
    this.password = password;
    this.config = config;
  }

  /** The settings each node needs for replication (merge them into the node's EmbeddedPostgres settings). */
  public static Map<String, String> replicationSettings(String self, int otherPort, String user, Path passfile) {
    return Map.of(
        "primary_conninfo", "host=127.0.0.1 port=" + otherPort + " user=" + DatabaseMember.conninfoValue(user) + " passfile="
            + DatabaseMember.conninfoValue(passfile.toString()) + " application_name=" + DatabaseMember.conninfoValue(self) + " connect_timeout=2",
        "primary_slot_name", slotName(self),
        "hot_standby", "on",
        "wal_sender_timeout", "5s",
        "wal_receiver_status_interval", "1s",
        "max_slot_wal_keep_size", "8GB",
        "max_wal_senders", "10",
        "max_replication_slots", "10");
  }

  /** The replication slot on the primary that keeps the WAL a node (as standby) still needs. */
  public static String slotName(String node) {
    return "bulwark_" + node.replace('-', '_');
  }

  // ---------------------------------------------------------------- start

  /**
   * Starts the primary (the one {@link HaState} names, else the first node), and the standby, or
   * rebuilds it in the background when it is missing or fenced. Returns once the primary accepts
   * writes. Then call {@link #start()}.
   */
  public void bootstrap() {
    state = HaState.read(stateFile).orElseGet(() -> new HaState(nodes[0].name(), 0));
    DbNode p = node(state.primary());
    DbNode s = other(p);
    if (!p.postgres().isInitialized() && s.postgres().isInitialized()) {
      // never initdb an empty primary next to a node that holds the data: the standby would be rebuilt from it
      if (Files.exists(s.postgres().dataDir().resolve(REBUILD_MARKER))) {
        throw new DrException("the primary " + p.name() + " (" + p.postgres().dataDir() + ") has no database, and "
            + s.name() + " was fenced after a failover, so its history may have diverged; refusing to guess. Restore"
            + " with `bulwark db restore --promote`, or move " + s.postgres().dataDir() + " away to start empty");
      }
      event(Kinds.DB_PRIMARY, p.name() + " has no database but " + s.name() + " has: electing " + s.name());
      state = state.promote(s.name());
      state.write(stateFile);
      p = s;
      s = other(p);
    }
    p.postgres().initIfNeeded();
    p.postgres().writeRuntimeSettings(Map.of("synchronous_standby_names", ""));
    startAsPrimary(p);
    ensureReplicationRole(p);
    if (!HaState.read(stateFile).isPresent()) state.write(stateFile);
    primary = p;
    standby = s;
    p.roleChanged(NodeRole.PRIMARY);
    event(Kinds.DB_PRIMARY, "primary is " + p.name() + " (port " + p.postgres().port() + ")");
    if (needsRebuild(s)) {
      scheduleRebuild(s);
    } else {
      try {
        ensureSlot(p, s, false);
        s.start();
        standbyRole = NodeRole.STANDBY;
        s.roleChanged(NodeRole.STANDBY);
        event(Kinds.DB_STANDBY, "standby " + s.name() + " started");
      } catch (RuntimeException e) {
        event(Kinds.DB_REBUILD, "standby " + s.name() + " did not start (" + e.getMessage().lines().findFirst().orElse("") + "); rebuilding it");
        s.kill();
        scheduleRebuild(s);
      }
    }
  }

  /** Starts monitoring: replication mode, failure detection, failover, standby restarts. */
  public void start() {
    monitor.scheduleWithFixedDelay(this::tick, 0, config.checkInterval().toMillis(), TimeUnit.MILLISECONDS);
  }

  /**
   * Starts the elected primary. If it still has standby.signal (the controller stopped between
   * recording the election and completing the promotion), it starts as a standby and is promoted.
   */
  private void startAsPrimary(DbNode p) {
    Path dir = p.postgres().dataDir();
    boolean promotionPending = p.postgres().isInitialized() && Files.exists(dir.resolve("standby.signal"));
    if (promotionPending) {
      event(Kinds.DB_FAILOVER, p.name() + " is the elected primary but still a standby; promoting it");
      deleteQuietly(dir.resolve(REBUILD_MARKER));
    }
    p.start();
    if (promotionPending) promote(p);
  }

  private boolean needsRebuild(DbNode n) {
    Path dir = n.postgres().dataDir();
    return !n.postgres().isInitialized() || Files.exists(dir.resolve(REBUILD_MARKER))
        || !Files.exists(dir.resolve("standby.signal"));
  }

  // ---------------------------------------------------------------- monitor

  /** Observe, decide ({@link FailoverPolicy#primary}), act. */
  private void tick() {
    if (closed) return;
    try {
      DbNode p = primary;
      boolean alive = p.isAlive();
      FailoverPolicy.Verdict verdict = FailoverPolicy.primary(alive, alive && check(p), failedChecks, config.failAfter(),
          new FailoverPolicy.Standby(rebuilding, standby.isAlive(), mode.eligible()));
      switch (verdict) {
        case FailoverPolicy.Verdict.Healthy h -> {
          failedChecks = 0;
          superviseStandby();
        }
        case FailoverPolicy.Verdict.Suspect s -> failedChecks = s.failedChecks();
        case FailoverPolicy.Verdict.FailOver f -> {
          long detected = System.nanoTime(); // before recording it: the measured failover starts at detection
          event(Kinds.DB_FAILOVER, "primary " + p.name() + " failed (" + f.reason() + "); failing over to " + standby.name());
          closeMonitorConnection();
          failedChecks = 0;
          failOver(p, standby, f.reason(), detected, false);
        }
        case FailoverPolicy.Verdict.RestartInPlace r -> {
          closeMonitorConnection();
          failedChecks = 0;
          restartInPlace(p, r.reason(), r.whyNoFailover());
        }
      }
    } catch (RuntimeException | Error e) {
      // a scheduled task that throws is never run again: this one must keep watching the primary
      log.error("failover controller tick failed", e);
    }
  }

  /** One check of the primary: replication state, and the synchronous/asynchronous switch. */
  private boolean check(DbNode p) {
    try {
      Connection c = monitorConnection(p);
      String standbyName = standby.name();
      String current;
      String state = null;
      String syncState = null;
      String flush = null;
      Double replayLag = null;
      try (Statement st = c.createStatement();
          ResultSet rs = st.executeQuery("SELECT pg_current_wal_lsn(), substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)")) {
        rs.next();
        current = rs.getString(1);
        primaryTimeline = Long.parseLong(rs.getString(2), 16);
      }
      try (PreparedStatement st = c.prepareStatement(
          "SELECT state, sync_state, flush_lsn, EXTRACT(EPOCH FROM replay_lag) FROM pg_stat_replication"
              + " WHERE application_name = ? ORDER BY backend_start DESC LIMIT 1")) {
        st.setString(1, standbyName);
        try (ResultSet rs = st.executeQuery()) {
          if (rs.next()) {
            state = rs.getString(1);
            syncState = rs.getString(2);
            flush = rs.getString(3);
            double lag = rs.getDouble(4);
            replayLag = rs.wasNull() ? 0.0 : lag;
          }
        }
      }
      FailoverPolicy.Sample sample = new FailoverPolicy.Sample(state, syncState, flush == null ? null : Lsn.parse(flush),
          Lsn.parse(current));
      standbyState = state == null ? "not connected" : state;
      lagBytes = sample.lagBytes();
      lagSeconds = replayLag;
      FailoverPolicy.Transition t = FailoverPolicy.replication(config.synchronous(), config.maxLagOnFailover(), mode, sample,
          standbyName);
      switch (t.change()) {
        case TO_SYNCHRONOUS -> setSynchronousStandby(p, standbyName);
        case TO_ASYNCHRONOUS -> {
          // ineligible first: never promote it from now on, even if the switch below fails (then it is retried)
          mode = new FailoverPolicy.Mode(true, false, mode.syncSince());
          setSynchronousStandby(p, "");
        }
        case NONE -> { }
      }
      mode = t.next();
      if (t.event() != null) event(Kinds.DB_REPLICATION, t.event());
      return true;
    } catch (SQLException e) {
      closeMonitorConnection();
      log.warn("check of primary {} failed: {}", p.name(), e.getMessage());
      return false;
    }
  }

  private void setSynchronousStandby(DbNode p, String standbyName) throws SQLException {
    p.postgres().writeRuntimeSettings(Map.of("synchronous_standby_names",
        standbyName.isEmpty() ? "" : "\"" + standbyName + "\""));
    try (Statement st = monitorConnection(p).createStatement()) {
      st.execute("SELECT pg_reload_conf()");
    }
  }

  /** Restarts a standby that died (it streams again from its slot); rebuilds it after repeated failures. */
  private void superviseStandby() {
    DbNode s = standby;
    if (rebuilding) return;
    if (s.isAlive()) {
      if (!"streaming".equals(standbyState) && !"catchup".equals(standbyState) && !"startup".equals(standbyState)) {
        if (notStreamingSince == 0) notStreamingSince = System.nanoTime();
        if (System.nanoTime() - notStreamingSince > NOT_STREAMING_REBUILD.toNanos()) {
          event(Kinds.DB_REBUILD, "standby " + s.name() + " has not streamed for " + NOT_STREAMING_REBUILD.toSeconds()
              + " s (its WAL may be gone from the primary); rebuilding it");
          notStreamingSince = 0;
          scheduleRebuild(s);
        }
      } else {
        notStreamingSince = 0;
      }
      return;
    }
    notStreamingSince = 0;
    if (standbyRole == NodeRole.STANDBY) {
      standbyRole = NodeRole.DOWN;
      s.roleChanged(NodeRole.DOWN);
      event(Kinds.DB_STANDBY, "standby " + s.name() + " is down");
    }
    if (System.nanoTime() - nextStandbyStart < 0) return;
    if (needsRebuild(s)) {
      // a fenced old primary, or a rebuild that failed half-way (its marker is still there): only a fresh
      // copy of the primary may run as its standby, never the data it had
      scheduleRebuild(s);
      return;
    }
    try {
      s.start();
      standbyStartFailures = 0;
      standbyRole = NodeRole.STANDBY;
      s.roleChanged(NodeRole.STANDBY);
      event(Kinds.DB_STANDBY, "standby " + s.name() + " restarted");
    } catch (RuntimeException e) {
      standbyStartFailures++;
      s.kill();
      nextStandbyStart = System.nanoTime() + Duration.ofSeconds(Math.min(30, 1L << standbyStartFailures)).toNanos();
      if (standbyStartFailures >= 2) {
        event(Kinds.DB_REBUILD, "standby " + s.name() + " failed to start twice; rebuilding it");
        scheduleRebuild(s);
      }
    }
  }

  // ---------------------------------------------------------------- failover

  /** The primary died and no failover is safe: restart it where it is (crash recovery), with backoff. */
  private void restartInPlace(DbNode p, String reason, String whyNoFailover) {
    if (System.nanoTime() - nextPrimaryStart < 0) return; // backing off after failed restarts
    event(Kinds.DB_PRIMARY, "primary " + p.name() + " failed (" + reason + "); no failover: " + whyNoFailover + "; restarting " + p.name());
    p.kill();
    try {
      startAsPrimary(p);
      primaryStartFailures = 0;
      event(Kinds.DB_PRIMARY, "primary " + p.name() + " restarted in place");
    } catch (RuntimeException e) {
      primaryStartFailures++;
      long backoff = Math.min(30, 1L << Math.min(5, primaryStartFailures));
      nextPrimaryStart = System.nanoTime() + Duration.ofSeconds(backoff).toNanos();
      event(Kinds.DB_PRIMARY, "primary " + p.name() + " did not restart (" + e.getMessage().lines().findFirst().orElse("")
          + "); next attempt in " + backoff + " s");
      p.kill();
    }
  }

  /** Fence old, record new, promote new, rebuild old. Runs on the monitor thread. */
  private void failOver(DbNode old, DbNode next, String reason, long began, boolean planned) {
    fence(old);
    state = state.promote(next.name());
    state.write(stateFile);
    mode = FailoverPolicy.Mode.ASYNCHRONOUS;
    next.postgres().writeRuntimeSettings(Map.of("synchronous_standby_names", ""));
    primary = next;
    standby = old;
    try {
      promote(next);
    } catch (RuntimeException e) {
      // the election stands (HaState): the next check restarts next and completes its promotion
      event(Kinds.DB_FAILOVER, "promoting " + next.name() + " failed: " + e.getMessage() + "; retrying");
      next.kill();
      return;
    }
    long tookMillis = (System.nanoTime() - began) / 1_000_000;
    standbyState = "none";
    lagBytes = null;
    lagSeconds = null;
    next.roleChanged(NodeRole.PRIMARY);
    failovers++;
    lastFailover = new Failover(Instant.now(), old.name(), next.name(), reason, tookMillis, planned);
    event(Kinds.DB_FAILOVER, (planned ? "switchover" : "failover") + " done: " + next.name() + " is primary (" + tookMillis
        + " ms after " + (planned ? "the request" : "detection") + "); rebuilding " + old.name() + " as its standby");
    scheduleRebuild(old);
  }

  /**
   * Makes sure a node can never again accept writes as a second primary: kill it, then leave
   * standby.signal (it can only start read-only) and the rebuild marker in its data directory.
   */
  private void fence(DbNode n) {
    n.kill();
    Path dir = n.postgres().dataDir();
    if (Files.isDirectory(dir)) {
      try {
        Fs.touchSynced(dir.resolve("standby.signal"));
        Fs.touchSynced(dir.resolve(REBUILD_MARKER));
      } catch (IOException e) {
        // the node is killed; without the markers whatever starts it next could start a second primary
        throw new DrException("cannot fence " + n.name() + ": writing standby.signal and the rebuild marker into " + dir
            + " failed (" + e + "); it is stopped, but check the disk before starting it", e);
      }
    }
    n.roleChanged(NodeRole.DOWN);
    standbyRole = NodeRole.DOWN;
    event(Kinds.DB_FENCE, "fenced " + n.name() + " (killed; standby.signal and rebuild marker written)");
  }

  private void promote(DbNode n) {
    try (Connection c = connect(n)) {
      try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT pg_promote(true, 60)")) {
        rs.next();
        if (!rs.getBoolean(1)) throw new IllegalStateException("pg_promote did not finish within 60 s on " + n.name());
      }
      try (Statement st = c.createStatement()) {
        st.execute("SELECT pg_reload_conf()");
      }
    } catch (SQLException e) {
      throw new IllegalStateException("cannot promote " + n.name() + ": " + e.getMessage(), e);
    }
  }

  /**
   * A planned switchover: the standby becomes primary, the primary is stopped cleanly (it sends the
   * standby all its WAL first), fenced and rebuilt as the new standby. Refused, with the reason,
   * when there is no healthy synchronous standby.
   */
  public CompletableFuture<Failover> switchover() {
    CompletableFuture<Failover> result = new CompletableFuture<>();
    monitor.execute(() -> {
      try {
        DbNode p = primary;
        DbNode s = standby;
        if (rebuilding) throw new IllegalStateException("no healthy standby: " + s.name() + " is being rebuilt");
        if (!s.isAlive()) throw new IllegalStateException("no healthy standby: " + s.name() + " is down");
        if (!mode.eligible()) {
          throw new IllegalStateException("no healthy standby: " + s.name() + " is " + standbyState
              + (config.synchronous() ? " and not synchronous yet" : " and lags " + lagBytes + " bytes"));
        }
        long began = System.nanoTime();
        event(Kinds.DB_FAILOVER, "switchover requested: " + p.name() + " -> " + s.name());
        closeMonitorConnection();
        p.stop();
        failOver(p, s, "planned switchover", began, true);
        result.complete(lastFailover);
      } catch (RuntimeException e) {
        result.completeExceptionally(e);
      }
    });
    return result;
  }

  // ---------------------------------------------------------------- rebuild

  private void scheduleRebuild(DbNode n) {
    if (rebuilding) return;
    rebuilding = true;
    standbyRole = NodeRole.REBUILDING;
    n.roleChanged(NodeRole.REBUILDING);
    rebuilder.execute(() -> {
      Throwable failure = null;
      try {
        rebuild(n);
      } catch (Throwable e) { // an Error too: whatever ended the rebuild, the monitor must learn it ended
        log.error("rebuilding {} failed", n.name(), e);
        failure = e;
      } finally {
        Throwable failed = failure;
        // the outcome is applied on the monitor thread, the one owner of the standby's state
        onMonitor(() -> rebuildFinished(n, failed));
      }
    });
  }

  private void rebuildFinished(DbNode n, Throwable failure) {
    if (failure == null) {
      standbyRole = NodeRole.STANDBY;
      n.roleChanged(NodeRole.STANDBY);
    } else {
      event(Kinds.DB_REBUILD, "rebuild of " + n.name() + " failed: " + failure.getMessage() + "; retrying on the next check");
      standbyRole = NodeRole.DOWN;
      n.roleChanged(NodeRole.DOWN);
      nextStandbyStart = System.nanoTime() + Duration.ofSeconds(5).toNanos();
      // the next supervision rebuilds again: the node still needs it (needsRebuild)
    }
    rebuilding = false;
  }

  /** Runs on the monitor thread; dropped once the controller is closed (nothing is decided any more). */
  private void onMonitor(Runnable action) {
    try {
      monitor.execute(action);
    } catch (java.util.concurrent.RejectedExecutionException closing) {
      rebuilding = false;
    }
  }

  /** Replaces n's data directory with a fresh base backup of the primary, as a standby, and starts it. */
  private void rebuild(DbNode n) throws IOException, SQLException {
    if (closed) return;
    DbNode p = primary;
    long began = System.nanoTime();
    n.kill();
    Path dir = n.postgres().dataDir();
    Path tmp = dir.resolveSibling("." + dir.getFileName() + ".rebuild");
    Fs.deleteRecursively(tmp);
    ensureSlot(p, n, true);
    long bytes;
    try (Connection c = connect(p)) {
      DirectorySink sink = new DirectorySink(tmp);
      OnlineBackup.take(c, p.postgres().dataDir(), "bulwark standby " + n.name(), false, sink);
      bytes = sink.bytesWritten();
    }
    Fs.touchSynced(tmp.resolve("standby.signal"));
    Fs.deleteRecursively(dir);
    Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
    Fs.fsync(dir.getParent());
    if (closed) return;
    n.start();
    event(Kinds.DB_REBUILD, "rebuilt " + n.name() + " from " + p.name() + " (" + (bytes >> 20) + " MiB in "
        + (System.nanoTime() - began) / 1_000_000 + " ms); streaming");
  }

  /**
   * Makes sure p has the slot that keeps the WAL n needs as its standby. fresh: drop an old one
   * first (n is being rebuilt, its new copy needs WAL from now on, not from the old slot's position).
   */
  /** The role standbys stream as, on the primary (and so, through the WAL, on every standby). */
  private void ensureReplicationRole(DbNode p) {
    if (replication == null) return;
    try (Connection c = connect(p)) {
      replication.ensure(c);
    } catch (SQLException e) {
      throw new DrException("cannot set up replication role " + replication.name() + " on " + p.name() + ": " + e.getMessage(), e);
    }
  }

  private void ensureSlot(DbNode p, DbNode n, boolean fresh) {
    String slot = slotName(n.name());
    try (Connection c = connect(p)) {
      boolean exists;
      try (PreparedStatement st = c.prepareStatement("SELECT 1 FROM pg_replication_slots WHERE slot_name = ?")) {
        st.setString(1, slot);
        try (ResultSet rs = st.executeQuery()) {
          exists = rs.next();
        }
      }
      if (exists && !fresh) return;
      if (exists) {
        try (PreparedStatement drop = c.prepareStatement("SELECT pg_drop_replication_slot(?)")) {
          drop.setString(1, slot);
          drop.execute();
        }
      }
      try (PreparedStatement create = c.prepareStatement("SELECT pg_create_physical_replication_slot(?, true)")) {
        create.setString(1, slot);
        create.execute();
      }
    } catch (SQLException e) {
      throw new IllegalStateException("cannot create replication slot " + slot + " on " + p.name() + ": " + e.getMessage(), e);
    }
  }

  // ---------------------------------------------------------------- status

  public Status status() {
    List<NodeStatus> list = new ArrayList<>();
    DbNode p = primary;
    for (DbNode n : nodes) {
      NodeRole role = n == p ? (n.isAlive() ? NodeRole.PRIMARY : NodeRole.DOWN) : standbyRole;
      list.add(new NodeStatus(n.name(), role, n.pid(), n.postgres().port(), n == p ? primaryTimeline : null, n.isAlive()));
    }
    FailoverPolicy.Mode m = mode; // one read: the mode and eligibility shown belong together
    List<String> recent;
    synchronized (events) {
      recent = List.copyOf(events);
    }
    return new Status(p == null ? null : p.name(), standby == null ? null : standby.name(), list,
        m.synchronous() ? "synchronous" : "asynchronous", m.eligible(),
        standbyState, lagBytes, lagSeconds, lastFailover, failovers, recent);
  }

  public DbNode primary() {
    return primary;
  }

  public DbNode standby() {
    return standby;
  }

  // ---------------------------------------------------------------- helpers

  private DbNode node(String name) {
    for (DbNode n : nodes) if (n.name().equals(name)) return n;
    throw new IllegalStateException(stateFile + " names primary '" + name + "', which is not a node (" + nodes[0].name()
        + ", " + nodes[1].name() + ")");
  }

  private DbNode other(DbNode n) {
    return nodes[0] == n ? nodes[1] : nodes[0];
  }

  private Connection monitorConnection(DbNode p) throws SQLException {
    if (monitorConnection == null) monitorConnection = connect(p);
    return monitorConnection;
  }

  private void closeMonitorConnection() {
    if (monitorConnection != null) {
      try {
        monitorConnection.close();
      } catch (SQLException ignored) {
        // gone
      }
      monitorConnection = null;
    }
  }

  private Connection connect(DbNode n) throws SQLException {
    EmbeddedPostgres pg = n.postgres();
    Properties props = new Properties();
    props.setProperty("user", user);
    props.setProperty("password", password);
    String timeout = Long.toString(Math.max(1, config.checkTimeout().toSeconds()));
    props.setProperty("connectTimeout", timeout);
    props.setProperty("socketTimeout", timeout);
    props.setProperty("loginTimeout", timeout);
    props.setProperty("ApplicationName", "bulwark-failover-controller");
    return DriverManager.getConnection(pg.jdbcUrl("postgres"), props);
  }

  /** Logs it, keeps it for {@link Status#events()}, and records it in the deployment's event journal. */
  private void event(String kind, String text) {
    log.info("{}", text);
    journal.record(kind, text);
    synchronized (events) {
      events.addLast(Instant.now() + " " + text);
      while (events.size() > MAX_EVENTS) events.removeFirst();
    }
  }

  private static void deleteQuietly(Path p) {
    try {
      Files.deleteIfExists(p);
    } catch (IOException ignored) {
      // best effort
    }
  }

  /** Stops monitoring (no failover from now on) and waits for a running rebuild; the caller stops the nodes. */
  @Override
  public void close() {
    closed = true;
    monitor.shutdown();
    rebuilder.shutdown();
    try {
      monitor.awaitTermination(30, TimeUnit.SECONDS);
      rebuilder.awaitTermination(60, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    closeMonitorConnection();
  }
}
