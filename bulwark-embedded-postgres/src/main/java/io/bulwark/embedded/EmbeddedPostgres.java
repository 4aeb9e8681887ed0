package io.bulwark.embedded;

import io.bulwark.core.io.Fs;
import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.ProcessBuilder.Redirect;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real, durable PostgreSQL server run from the bundled binaries ({@link PostgresBinaries}): the
 * facade over the data directory's cluster ({@link ClusterInit}: initdb, version check), its
 * configuration ({@link ServerSettings}: defaults, refused settings, {@code bulwark.conf}, {@code
 * pg_hba.conf}) and the postmaster process ({@link Postmaster}: pid file, readiness, stopping and
 * killing it with its backends).
 *
 * <p>Two ways to use it:
 *
 * <ul>
 *   <li><b>Supervised</b>: call {@link #prepareStart()} (initdb if needed, rewrite {@code
 *       bulwark.conf}, clear a stale {@code postmaster.pid}), then run {@link #serverCommand()} (or
 *       {@link #processBuilder()}) as a foreground child process, watch it, and use {@link
 *       #awaitReady} or {@link #isReady()} for readiness. Stop it with SIGINT (fast shutdown).
 *   <li><b>Managed</b> (tests, simple embedding): {@link #start()}, {@link #stop()}, {@link
 *       #kill()}, {@link #close()}.
 * </ul>
 *
 * <p>The server only listens on 127.0.0.1 (TCP, no Unix socket) and authenticates with
 * scram-sha-256 as {@link #user()}. Durability settings ({@code fsync}, {@code synchronous_commit},
 * {@code full_page_writes}) cannot be turned off: the builder refuses it, and they are also passed
 * on the command line, which outranks every configuration file including {@code ALTER SYSTEM}'s
 * {@code postgresql.auto.conf}.
 *
 * <p>PostgreSQL refuses to run as root. When the JVM runs as root, initdb and postgres are run
 * under {@code unshare -U}: a new user namespace without a uid mapping, in which the process has no
 * privileges but still owns the (root-owned) data directory. {@code unshare} execs the program, so
 * the child process's pid is the postmaster's pid.
 *
 * <p>Server output (and initdb's) is appended to {@link #logFile()}, by default the data
 * directory's sibling {@code <dataDir name>.log} (for {@code /var/lib/bulwark/pgdata} that is
 * {@code /var/lib/bulwark/pgdata.log}): outside the data directory so that it never ends up in a
 * base backup, and unique per data directory.
 */
public final class EmbeddedPostgres implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(EmbeddedPostgres.class);

  public static final String DEFAULT_USER = "bulwark";
  public static final Duration DEFAULT_START_TIMEOUT = Duration.ofSeconds(60);
  public static final Duration DEFAULT_STOP_TIMEOUT = Duration.ofSeconds(30);
  /** How long past its start timeout a server under a keeper lives before its starter must hold it. */
  private static final Duration KEEPER_START_GRACE = Duration.ofSeconds(10);
  /** How long a keeper takes to exit after its server did. */
  private static final Duration KEEPER_EXIT_WAIT = Duration.ofSeconds(2);
  /** Rewritten in the data directory on every start; included last by postgresql.conf. */
  public static final String CONF_FILE = "bulwark.conf";

  /**
   * Settings changed while the server runs (e.g. {@code synchronous_standby_names} by the failover
   * controller): written by {@link #writeRuntimeSettings}, included after {@link #CONF_FILE}, applied
   * by {@code SELECT pg_reload_conf()}. Never copied into a base backup.
   */
  public static final String RUNTIME_CONF_FILE = "bulwark-runtime.conf";

  static final String LOOPBACK = "127.0.0.1";
  private static final Duration POLL = Duration.ofMillis(25);
  private static final int LOG_TAIL_LINES = 30;

  /** What {@code bulwark.conf} sets before the user's settings (which override these). */
  public static final Map<String, String> DEFAULT_SETTINGS = ServerSettings.defaultSettings();

  private static final Pattern USER_NAME = Pattern.compile("[a-z_][a-z0-9_]{0,62}");

  private final Path dataDir;
  private final int port;
  private final String user;
  private final String password;
  private final Path binariesDir;
  private final Path logFile;
  private final Map<String, String> settings;
  private final Duration startTimeout;
  private final Duration stopTimeout;
  private final List<String> commandPrefix;
  private final List<String> clientHosts;
  private final boolean clientHostsOverTls;
  private final String description;
  private final Postmaster control;
  private final ClusterInit init;

  private final Keeper keeper; // null: the server is a direct child

  // guarded by this
  private Process process; // what this instance launched: the postmaster, or its keeper
  private ProcessHandle server; // the running postmaster: launched by this instance, or adopted

  private EmbeddedPostgres(Builder b, Path binariesDir, int port, List<String> commandPrefix, Keeper keeper) {
    this.dataDir = b.dataDir;
    this.port = port;
    this.user = b.user;
    this.password = b.password;
    this.binariesDir = binariesDir;
    this.logFile =
        b.logFile != null
            ? b.logFile
            : b.dataDir.resolveSibling(b.dataDir.getFileName() + ".log");
    Map<String, String> merged = new LinkedHashMap<>(DEFAULT_SETTINGS);
    merged.putAll(b.settings);
    this.settings = Collections.unmodifiableMap(merged);
    this.startTimeout = b.startTimeout;
    this.stopTimeout = b.stopTimeout;
    this.commandPrefix = commandPrefix;
    this.keeper = keeper;
    this.clientHosts = List.copyOf(b.clientHosts);
    this.clientHostsOverTls = b.clientHostsOverTls;
    this.description = "embedded-postgres[" + dataDir + ":" + port + "]";
    this.control = new Postmaster(dataDir, port, description);
    this.init = new ClusterInit(dataDir, user, password, binariesDir, commandPrefix, description, this::appendToLog);
  }

  public static Builder builder() {
    return new Builder();
  }

  // ---------------------------------------------------------------- init

  /** Whether the data directory holds an initialized cluster (has PG_VERSION). */
  public boolean isInitialized() {
    return init.isInitialized();
  }

  /**
   * Runs initdb unless the data directory is initialized; checks that an existing cluster's major
   * version matches the binaries. initdb runs in a temporary sibling directory renamed onto {@link
   * #dataDir()}, so a crash never leaves a half-initialized cluster there.
   *
   * @throws EmbeddedPostgresException if initdb fails (with its output), if dataDir is not empty
   *     but no cluster, or if the cluster was made by another PostgreSQL major version
   */
  public synchronized void initIfNeeded() {
    init.initIfNeeded();
  }

  /** The major version of the configured binaries, from {@code postgres --version}. */
  int binariesMajor() {
    return init.binariesMajor();
  }

  // ---------------------------------------------------------------- settings

  /**
   * Replaces {@link #RUNTIME_CONF_FILE} with these settings (validated like the builder's). The
   * caller applies them with {@code SELECT pg_reload_conf()}; settings that need a restart wait for
   * the next start.
   */
  public void writeRuntimeSettings(Map<String, String> runtime) {
    StringBuilder sb = new StringBuilder("# Written by Bulwark at run time; applied by pg_reload_conf().\n");
    runtime.forEach((k, v) -> sb.append(ServerSettings.checkSetting(k, v)).append(" = ").append(ServerSettings.quote(v)).append('\n'));
    try {
      ServerSettings.ensureIncludeLine(dataDir);
      Fs.writeAtomically(dataDir.resolve(RUNTIME_CONF_FILE), sb.toString().getBytes(StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new EmbeddedPostgresException("cannot write " + dataDir.resolve(RUNTIME_CONF_FILE) + ": " + e, e);
    }
  }

  // ---------------------------------------------------------------- start preparation

  /**
   * Everything before launching the server: {@link #initIfNeeded()}, remove {@code
   * postmaster.pid} if the process it names is gone, rewrite {@code bulwark.conf} with the current
   * settings, and create the log file (mode 0600).
   *
   * @throws EmbeddedPostgresException.AlreadyRunning if a live postmaster owns the data directory
   */
  public synchronized void prepareStart() {
    initIfNeeded();
    control.clearStalePidFile();
    try {
      ServerSettings.ensureIncludeLine(dataDir);
      writeConf();
      ServerSettings.writeHba(dataDir, clientHosts, clientHostsOverTls);
    } catch (IOException e) {
      throw new EmbeddedPostgresException("cannot write the configuration of " + dataDir + ": " + e, e);
    }
    createLogFile();
  }

  /** Creates the log file with mode 0600 (it can contain SQL and data from error messages). */
  private void createLogFile() {
    try {
      Files.createDirectories(logFile.getParent());
      if (!Files.exists(logFile)) {
        Files.createFile(logFile, Fs.attribute(Fs.PRIVATE_FILE));
      }
    } catch (FileAlreadyExistsException raced) {
      // fine
    } catch (IOException e) {
      throw new EmbeddedPostgresException("cannot create log file " + logFile + ": " + e, e);
    }
  }

  /** The content of {@code bulwark.conf}. */
  String confText() {
    StringBuilder sb =
        new StringBuilder("# Written by Bulwark before every start of ")
            .append(dataDir)
            .append(". Do not edit: changes are overwritten.\n");
    settings.forEach((k, v) -> sb.append(k).append(" = ").append(ServerSettings.quote(v)).append('\n'));
    return sb.toString();
  }

  private void writeConf() throws IOException {
    Fs.writeAtomically(dataDir.resolve(CONF_FILE), confText().getBytes(StandardCharsets.UTF_8));
  }

  // ---------------------------------------------------------------- commands

  /**
   * The argv that runs the postmaster in the foreground: {@code [unshare -U] bin/postgres -D
   * <dataDir> -p <port> -c fsync=... -c synchronous_commit=... -c full_page_writes=...}. Run it
   * after {@link #prepareStart()}.
   */
  public List<String> serverCommand() {
    List<String> command = new ArrayList<>(commandPrefix);
    command.add(binariesDir.resolve("bin/postgres").toString());
    command.add("-D");
    command.add(dataDir.toString());
    command.add("-p");
    command.add(Integer.toString(port));
    for (String name : ServerSettings.PROTECTED) {
      command.add("-c");
      command.add(name + "=" + settings.get(name));
    }
    return List.copyOf(command);
  }

  /**
   * A ProcessBuilder for {@link #serverCommand()} with stdout and stderr appended to {@link
   * #logFile()} and libpq/PG* variables removed from the environment. The caller may change the
   * redirects.
   */
  public ProcessBuilder processBuilder() {
    ProcessBuilder pb =
        new ProcessBuilder(serverCommand())
            .redirectErrorStream(true)
            .redirectOutput(Redirect.appendTo(logFile.toFile()))
            .redirectInput(Redirect.from(new File("/dev/null")));
    scrubEnvironment(pb.environment());
    return pb;
  }

  static void scrubEnvironment(Map<String, String> env) {
    env.keySet().removeIf(k -> k.startsWith("PG"));
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * {@link #prepareStart()}, launch the postmaster (output appended to {@link #logFile()}) and wait
   * until it accepts connections.
   *
   * @throws EmbeddedPostgresException.AlreadyRunning if a live postmaster owns the data directory
   * @throws EmbeddedPostgresException if it exits or is not ready within the start timeout
   */
  public synchronized void start() {
    if (isRunning()) {
      throw new EmbeddedPostgresException.AlreadyRunning(dataDir, server.pid());
    }
    process = null;
    server = null;
    prepareStart();
    Process started;
    ProcessBuilder pb = processBuilder();
    try {
      appendToLog("starting: " + String.join(" ", serverCommand()));
      if (keeper != null) {
        keeper.holdFor(startTimeout.plus(KEEPER_START_GRACE)); // until the caller holds it itself
        List<String> kept = new ArrayList<>(keeper.prefix());
        kept.addAll(pb.command());
        pb.command(kept);
      }
      started = pb.start();
    } catch (IOException e) {
      throw new EmbeddedPostgresException("cannot launch " + serverCommand() + ": " + e, e);
    }
    long began = System.nanoTime();
    ProcessHandle postmaster;
    try {
      postmaster = keeper == null ? awaitReadyHandle(started, started, startTimeout) : awaitReadyHandle(started, null, startTimeout);
    } catch (RuntimeException e) {
      control.killTree(started);
      throw e;
    }
    process = started;
    server = postmaster;
    log.info("{}: started (pid {}{}) in {} ms", this, postmaster.pid(), keeper == null ? "" : ", under keeper pid " + started.pid(),
        (System.nanoTime() - began) / 1_000_000);
  }

  /**
   * Takes over a server already running on this data directory (ready, and its {@code
   * postmaster.pid} naming a live postmaster of this directory): one its keeper kept alive while the
   * supervisor that started it restarted. From then on it is this instance's to stop, kill and watch.
   *
   * @return whether a running server was adopted (false: none runs; {@link #start()} it)
   */
  public synchronized boolean adoptRunning() {
    if (isRunning()) return true;
    List<String> lines = control.pidFileLines();
    long pid = lines.isEmpty() ? -1 : Postmaster.parsePid(lines.get(0));
    // a server of this directory that listens elsewhere (started with another port) is not adopted: start() refuses it
    if (pid <= 0 || !control.ownsDataDir(pid) || !control.pidFileSaysReady(pid) || !control.acceptsTcp()) return false;
    Optional<ProcessHandle> h = ProcessHandle.of(pid);
    if (h.isEmpty()) return false;
    process = null;
    server = h.get();
    log.info("{}: adopted the running server (pid {})", this, pid);
    appendToLog("adopted the running server (pid " + pid + ")");
    return true;
  }

  /**
   * With a keeper ({@link Builder#keeper}): lets the server live for {@code fromNow} from now and no
   * longer unless called again. Whoever runs the server calls this while it runs it; once nobody does,
   * the keeper kills the server when the time is up. No-op without a keeper.
   */
  public void holdFor(Duration fromNow) {
    if (keeper != null) keeper.holdFor(fromNow);
  }

  /**
   * Waits until the given postmaster (started from {@link #serverCommand()}) accepts
   * connections: {@code postmaster.pid} names its pid with status "ready", and a TCP connect to
   * 127.0.0.1:{@link #port()} succeeds.
   *
   * @throws EmbeddedPostgresException if the process exits first (with the end of the log), or on
   *     timeout (the process is left running)
   */
  public void awaitReady(Process postmaster, Duration timeout) {
    awaitReadyHandle(postmaster, postmaster, timeout);
  }

  /**
   * Waits until the postmaster launched as (or under) {@code launched} is ready, and returns it.
   *
   * @param postmaster the postmaster when it is {@code launched} itself; null when {@code launched} is
   *     its keeper (the postmaster is then the keeper's child that {@code postmaster.pid} names)
   */
  private ProcessHandle awaitReadyHandle(Process launched, Process postmaster, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      if (!launched.isAlive()) {
        throw new EmbeddedPostgresException(
            this + ": PostgreSQL exited with status " + launched.exitValue() + " before accepting"
                + " connections; last lines of " + logFile + ":\n" + logTail());
      }
      long pid = postmaster != null ? postmaster.pid() : keptServerPid(launched);
      if (pid > 0 && control.pidFileSaysReady(pid) && control.acceptsTcp()) {
        return postmaster != null ? postmaster.toHandle() : ProcessHandle.of(pid).orElseThrow();
      }
      if (System.nanoTime() - deadline > 0) {
        throw new EmbeddedPostgresException(
            this + ": PostgreSQL (pid " + launched.pid() + ") did not accept connections within "
                + timeout + "; last lines of " + logFile + ":\n" + logTail());
      }
      try {
        // returns at once if the process exits
        launched.waitFor(POLL.toMillis(), TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new EmbeddedPostgresException(this + ": interrupted while waiting for PostgreSQL to start", e);
      }
    }
  }

  /**
   * Whether a postmaster (started by anyone) is ready on this data directory and port: the pid in
   * {@code postmaster.pid} is alive, its status is "ready", and 127.0.0.1:port accepts TCP.
   */
  public boolean isReady() {
    List<String> lines = control.pidFileLines();
    if (lines.isEmpty()) {
      return false;
    }
    long pid = Postmaster.parsePid(lines.get(0));
    return pid > 0 && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)
        && control.pidFileSaysReady(pid) && control.acceptsTcp();
  }

  /**
   * Fast shutdown of the server this instance started: SIGINT (rolls back open transactions, then
   * a shutdown checkpoint), wait up to the stop timeout, then SIGKILL. No-op if not running.
   */
  public synchronized void stop() {
    ProcessHandle p = server;
    if (p == null || !isRunning()) {
      forget();
      return;
    }
    log.info("{}: stopping (fast shutdown of pid {})", this, p.pid());
    if (!control.signal("INT", p.pid())) {
      p.destroy(); // SIGTERM: smart shutdown, better than nothing
    }
    try {
      p.onExit().get(stopTimeout.toMillis(), TimeUnit.MILLISECONDS);
      if (process != null) process.waitFor(KEEPER_EXIT_WAIT.toMillis(), TimeUnit.MILLISECONDS); // its keeper follows it
    } catch (java.util.concurrent.TimeoutException | java.util.concurrent.ExecutionException e) {
      log.warn("{}: pid {} did not stop within {}; sending SIGKILL", this, p.pid(), stopTimeout);
      control.killTree(p);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      control.killTree(p);
    }
    forget();
    log.info("{}: stopped", this);
  }

  private void forget() {
    process = null;
    server = null;
  }

  /** The pid of the postmaster a keeper launched: the one {@code postmaster.pid} names, if it is the keeper's child. */
  private long keptServerPid(Process keeperProcess) {
    List<String> lines = control.pidFileLines();
    long pid = lines.isEmpty() ? -1 : Postmaster.parsePid(lines.get(0));
    if (pid <= 0) return -1;
    return ProcessHandle.of(pid).flatMap(ProcessHandle::parent).map(ProcessHandle::pid).orElse(-1L) == keeperProcess.pid() ? pid : -1;
  }

  /**
   * SIGKILL the postmaster and all its children at once, like a machine crash, and wait until they
   * are gone. The next start runs crash recovery. For failure tests.
   */
  public synchronized void kill() {
    ProcessHandle p = server;
    if (p == null) {
      return;
    }
    log.warn("{}: killing pid {} and its children with SIGKILL", this, p.pid());
    control.killTree(p);
    forget();
  }

  /**
   * SIGKILL whatever postmaster owns this data directory according to {@code postmaster.pid}
   * (started by this instance or not, e.g. by a supervisor that died), and its children; waits
   * until they are gone. Returns the pid killed, or -1 if none was running. For fencing.
   */
  public long killOwner() {
    return control.killOwner();
  }

  /** SIGKILL a postmaster started from {@link #serverCommand()} by someone else, and its children; waits until they are gone. */
  public void killProcess(Process postmaster) {
    control.killTree(postmaster);
  }

  /** Whether the server this instance started (or adopted) is alive. */
  public synchronized boolean isRunning() {
    if (server == null) return false;
    // a direct child is reaped by the JVM (Process.isAlive is exact); an adopted server or a keeper's
    // child is not ours to reap, and a zombie counts as gone
    return process != null && keeper == null ? process.isAlive() : server.isAlive() && !Postmaster.isDead(server.pid());
  }

  /**
   * The postmaster's pid.
   *
   * @throws IllegalStateException if this instance has not started a server that is still alive
   */
  public synchronized long pid() {
    if (!isRunning()) {
      throw new IllegalStateException(this + " is not running");
    }
    return server.pid();
  }

  /** {@link #stop()}. */
  @Override
  public void close() {
    stop();
  }

  // ---------------------------------------------------------------- accessors

  /** {@code jdbc:postgresql://127.0.0.1:<port>/<database>}. */
  public String jdbcUrl(String database) {
    if (database == null || database.isBlank()) {
      throw new IllegalArgumentException("database must be a non-empty database name, was '" + database + "'");
    }
    return "jdbc:postgresql://" + LOOPBACK + ":" + port + "/" + database;
  }

  public int port() {
    return port;
  }

  public String user() {
    return user;
  }

  public String password() {
    return password;
  }

  public Path dataDir() {
    return dataDir;
  }

  public Path binariesDir() {
    return binariesDir;
  }

  public Path logFile() {
    return logFile;
  }

  /** The effective server settings written to {@code bulwark.conf}: defaults, then the user's. */
  public Map<String, String> settings() {
    return settings;
  }

  @Override
  public String toString() {
    return description;
  }

  // ---------------------------------------------------------------- log

  private void appendToLog(String text) {
    try {
      createLogFile();
      Files.writeString(
          logFile,
          "--- bulwark " + Instant.now() + " " + text + (text.endsWith("\n") ? "" : "\n"),
          StandardCharsets.UTF_8,
          StandardOpenOption.CREATE,
          StandardOpenOption.APPEND);
    } catch (IOException e) {
      log.warn("{}: cannot append to {}: {}", this, logFile, e.toString());
    }
  }

  /** The last lines of the log file (read from its end, so a huge log is cheap). */
  String logTail() {
    try (RandomAccessFile raf = new RandomAccessFile(logFile.toFile(), "r")) {
      long length = raf.length();
      long from = Math.max(0, length - 64 * 1024);
      byte[] bytes = new byte[(int) (length - from)];
      raf.seek(from);
      raf.readFully(bytes);
      Deque<String> tail = new ArrayDeque<>();
      new String(bytes, StandardCharsets.UTF_8)
          .lines()
          .forEach(
              l -> {
                tail.addLast(l);
                if (tail.size() > LOG_TAIL_LINES) {
                  tail.removeFirst();
                }
              });
      return String.join("\n", tail);
    } catch (IOException e) {
      return "(cannot read " + logFile + ": " + e + ")";
    }
  }

  // ---------------------------------------------------------------- settings

  static int currentUid() {
    try {
      return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
    } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
      return "root".equals(System.getProperty("user.name")) ? 0 : -1;
    }
  }

  // ---------------------------------------------------------------- builder

  /** Builds an {@link EmbeddedPostgres}; {@link #build()} validates everything. */
  public static final class Builder {
    private Path dataDir;
    private int port;
    private String user = DEFAULT_USER;
    private String password;
    private Path binariesDir;
    private Path logFile;
    private final Map<String, String> settings = new LinkedHashMap<>();
    private Duration startTimeout = DEFAULT_START_TIMEOUT;
    private Duration stopTimeout = DEFAULT_STOP_TIMEOUT;
    private final List<String> clientHosts = new ArrayList<>();
    private boolean clientHostsOverTls;
    private boolean dieWithParent;
    private Path keeperDeadline;

    private Builder() {}

    /**
     * Other hosts that may connect (clients and replication, with the password): their addresses
     * are written into {@code pg_hba.conf} on every start. Set {@code listen_addresses} so that they
     * can reach the server, too.
     */
    public Builder clientHosts(List<String> hosts) {
      for (String h : hosts) {
        if (h == null || !h.matches("[A-Za-z0-9.:-]+")) {
          throw new EmbeddedPostgresException("client host '" + h + "' is not an address or host name");
        }
      }
      clientHosts.clear();
      clientHosts.addAll(hosts);
      return this;
    }

    /**
     * Lets the {@link #clientHosts} in over TLS only ({@code hostssl}): set {@code ssl = on} and the
     * certificate and key settings too, or nobody from those hosts gets in.
     */
    public Builder clientHostsOverTls(boolean tls) {
      this.clientHostsOverTls = tls;
      return this;
    }

    /**
     * The server is killed (SIGKILL) when the thread that started it dies ({@code setpriv
     * --pdeathsig}): for a supervisor whose database must never outlive it, so that no primary keeps
     * running unwatched. Start it from a thread that lives as long as the supervisor.
     */
    public Builder dieWithParent(boolean dieWithParent) {
      this.dieWithParent = dieWithParent;
      return this;
    }

    /**
     * The server runs under a keeper ({@link Keeper}) instead of as a child of this JVM: it survives
     * the JVM's exit until the deadline last set with {@link EmbeddedPostgres#holdFor} (kept in
     * {@code deadlineFile}, outside the data directory), and is killed with its backends then; a
     * supervisor started again adopts it with {@link EmbeddedPostgres#adoptRunning()}. For an agent
     * whose restart must not restart its primary. Replaces {@link #dieWithParent}.
     */
    public Builder keeper(Path deadlineFile) {
      this.keeperDeadline = deadlineFile;
      return this;
    }

    /** Required. Created with mode 0700 if missing. */
    public Builder dataDir(Path dataDir) {
      this.dataDir = dataDir;
      return this;
    }

    /** TCP port on 127.0.0.1; 0 (the default) picks a free port when {@link #build()} runs. */
    public Builder port(int port) {
      this.port = port;
      return this;
    }

    /** The superuser created by initdb; default {@value EmbeddedPostgres#DEFAULT_USER}. */
    public Builder user(String user) {
      this.user = user;
      return this;
    }

    /** Required, non-empty: the superuser's password (scram-sha-256). Only used by initdb. */
    public Builder password(String password) {
      this.password = password;
      return this;
    }

    /** A directory with bin/, lib/, share/; default {@code PostgresBinaries.install()}. */
    public Builder binariesDir(Path binariesDir) {
      this.binariesDir = binariesDir;
      return this;
    }

    /** Where server and initdb output is appended; default the sibling {@code <dataDir>.log}. */
    public Builder logFile(Path logFile) {
      this.logFile = logFile;
      return this;
    }

    /**
     * An extra server setting written to {@code bulwark.conf}, overriding the defaults. Turning
     * off fsync, synchronous_commit or full_page_writes is refused.
     *
     * @throws EmbeddedPostgresException if the setting is refused
     */
    public Builder setting(String name, String value) {
      String key = ServerSettings.checkSetting(name, value);
      settings.put(key, ServerSettings.PROTECTED.contains(key) ? value.strip().toLowerCase(Locale.ROOT) : value);
      return this;
    }

    /** {@link #setting} for each entry. */
    public Builder settings(Map<String, String> settings) {
      settings.forEach(this::setting);
      return this;
    }

    /** How long {@link EmbeddedPostgres#start()} waits for readiness; default 60 s. */
    public Builder startTimeout(Duration startTimeout) {
      this.startTimeout = startTimeout;
      return this;
    }

    /** How long {@link EmbeddedPostgres#stop()} waits after SIGINT before SIGKILL; default 30 s. */
    public Builder stopTimeout(Duration stopTimeout) {
      this.stopTimeout = stopTimeout;
      return this;
    }

    /**
     * Validates and builds. Installs the bundled binaries if no binariesDir was given, and picks
     * the port if it is 0.
     *
     * @throws EmbeddedPostgresException naming the invalid value and how to fix it
     */
    public EmbeddedPostgres build() {
      if (dataDir == null) {
        throw new EmbeddedPostgresException("dataDir is required: the directory holding the PostgreSQL cluster");
      }
      dataDir = dataDir.toAbsolutePath().normalize();
      if (dataDir.getParent() == null) {
        throw new EmbeddedPostgresException("dataDir must not be the file system root, was " + dataDir);
      }
      if (port < 0 || port > 65535) {
        throw new EmbeddedPostgresException(
            "port must be between 1 and 65535, or 0 to pick a free port on 127.0.0.1; was " + port);
      }
      if (user == null || !USER_NAME.matcher(user).matches()) {
        throw new EmbeddedPostgresException(
            "user must be 1 to 63 characters of lower-case letters, digits and '_', not starting with a"
                + " digit; was " + (user == null ? "null" : "'" + user + "'"));
      }
      if (password == null || password.isEmpty()) {
        throw new EmbeddedPostgresException(
            "password must not be empty: the server authenticates with scram-sha-256 and is created"
                + " with a password for user " + user);
      }
      if (password.indexOf('\n') >= 0 || password.indexOf('\r') >= 0 || password.indexOf('\0') >= 0) {
        throw new EmbeddedPostgresException("password must be a single line without NUL characters");
      }
      requirePositive("startTimeout", startTimeout);
      requirePositive("stopTimeout", stopTimeout);
      if (logFile != null) {
        logFile = logFile.toAbsolutePath().normalize();
        if (logFile.startsWith(dataDir)) {
          throw new EmbeddedPostgresException(
              "logFile must be outside dataDir (initdb needs an empty directory and base backups"
                  + " would copy it); was " + logFile);
        }
      }
      Path binaries =
          binariesDir != null ? binariesDir.toAbsolutePath().normalize() : PostgresBinaries.install();
      for (String program : List.of("bin/postgres", "bin/initdb")) {
        if (!Files.isExecutable(binaries.resolve(program))) {
          throw new EmbeddedPostgresException(
              "binariesDir " + binaries + " has no executable " + program + "; point binariesDir at a"
                  + " PostgreSQL installation (with bin/, lib/, share/) or leave it unset to use the"
                  + " bundled binaries");
        }
      }
      int chosenPort = port != 0 ? port : freePort();
      List<String> prefix = new ArrayList<>(currentUid() == 0 ? List.of(unshare(), "-U") : List.of());
      if (dieWithParent || keeperDeadline != null) prefix.addAll(List.of(setpriv(), "--pdeathsig", "SIGKILL"));
      return new EmbeddedPostgres(this, binaries, chosenPort, prefix,
          keeperDeadline == null ? null : new Keeper(keeperDeadline.toAbsolutePath().normalize()));
    }

    private static void requirePositive(String name, Duration d) {
      if (d == null || d.isNegative() || d.isZero()) {
        throw new EmbeddedPostgresException(name + " must be a positive duration, was " + d);
      }
    }

    private static int freePort() {
      try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName(LOOPBACK))) {
        return socket.getLocalPort();
      } catch (IOException e) {
        throw new EmbeddedPostgresException("cannot find a free TCP port on " + LOOPBACK + ": " + e, e);
      }
    }

    private static String setpriv() {
      for (String candidate : List.of("/usr/bin/setpriv", "/bin/setpriv")) {
        if (Files.isExecutable(Path.of(candidate))) return candidate;
      }
      throw new EmbeddedPostgresException("found no setpriv at /usr/bin/setpriv or /bin/setpriv, which keeps PostgreSQL from"
          + " outliving its supervisor; install util-linux (apt-get install util-linux)");
    }

    private static String unshare() {
      for (String candidate : List.of("/usr/bin/unshare", "/bin/unshare")) {
        if (Files.isExecutable(Path.of(candidate))) {
          return candidate;
        }
      }
      throw new EmbeddedPostgresException(
          "running as root, and PostgreSQL refuses to run as root; Bulwark runs it in an unprivileged"
              + " user namespace with 'unshare -U', but found no unshare at /usr/bin/unshare or"
              + " /bin/unshare. Install util-linux (apt-get install util-linux), or run Bulwark as a"
              + " non-root user");
    }
  }
}
