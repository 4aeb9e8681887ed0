package io.bulwark.embedded;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The postmaster as a process: its {@code postmaster.pid} (who owns the data directory, whether it
 * says "ready"), whether it accepts TCP, and ending it and every backend it started (SIGINT for a
 * fast shutdown, SIGKILL of the whole tree, waiting until the children are really gone because they
 * hold the shared memory a new postmaster needs). {@link EmbeddedPostgres} is the facade.
 */
final class Postmaster {
  private static final Logger log = LoggerFactory.getLogger(Postmaster.class);
  private final Path dataDir;
  private final int port;
  private final String description;

  Postmaster(Path dataDir, int port, String description) {
    this.dataDir = dataDir;
    this.port = port;
    this.description = description;
  }

  @Override
  public String toString() {
    return description;
  }

  private static final Duration KILL_WAIT = Duration.ofSeconds(10);
  /** postmaster.pid line 8 (LOCK_FILE_LINE_PM_STATUS), 0-based. */
  private static final int PID_FILE_STATUS_LINE = 7;
  void clearStalePidFile() {
    Path pidFile = dataDir.resolve("postmaster.pid");
    List<String> lines;
    try {
      lines = Files.readAllLines(pidFile, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      return;
    } catch (IOException e) {
      throw new EmbeddedPostgresException("cannot read " + pidFile + ": " + e, e);
    }
    long pid = lines.isEmpty() ? -1 : parsePid(lines.get(0));
    if (pid > 0 && ownsDataDir(pid)) {
      throw new EmbeddedPostgresException.AlreadyRunning(dataDir, pid);
    }
    try {
      Files.deleteIfExists(pidFile);
      log.info("{}: removed stale postmaster.pid (pid {} is not running)", this, pid > 0 ? pid : "unreadable");
    } catch (IOException e) {
      throw new EmbeddedPostgresException("cannot remove stale " + pidFile + ": " + e, e);
    }
  }

  static long parsePid(String line) {
    try {
      return Long.parseLong(line.strip());
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /**
   * Whether pid is a live postmaster of this data directory. A postmaster's working directory is
   * its data directory; when that cannot be read (another user's process), any live postgres
   * counts. After a reboot a stale pid can belong to an unrelated process, which must not block
   * the start.
   */
  boolean ownsDataDir(long pid) {
    Optional<ProcessHandle> handle = ProcessHandle.of(pid);
    if (handle.isEmpty() || !handle.get().isAlive() || isDead(pid)) {
      return false;
    }
    try {
      Path cwd = Files.readSymbolicLink(Path.of("/proc", Long.toString(pid), "cwd"));
      return cwd.equals(dataDir.toRealPath());
    } catch (IOException | UnsupportedOperationException e) {
      Optional<String> command = handle.get().info().command();
      return command.isEmpty() || Path.of(command.get()).getFileName().toString().equals("postgres");
    }
  }

  boolean pidFileSaysReady(long pid) {
    List<String> lines = pidFileLines();
    return lines.size() > PID_FILE_STATUS_LINE
        && parsePid(lines.get(0)) == pid
        && lines.get(PID_FILE_STATUS_LINE).strip().equals("ready");
  }

  List<String> pidFileLines() {
    try {
      return Files.readAllLines(dataDir.resolve("postmaster.pid"), StandardCharsets.UTF_8);
    } catch (IOException e) { // absent, or being rewritten
      return List.of();
    }
  }

  boolean acceptsTcp() {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress(EmbeddedPostgres.LOOPBACK, port), 1000);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * SIGKILL whatever postmaster owns this data directory according to {@code postmaster.pid}
   * (started by this instance or not, e.g. by a supervisor that died), and its children; waits
   * until they are gone. Returns the pid killed, or -1 if none was running. For fencing.
   */
  long killOwner() {
    List<String> lines = pidFileLines();
    long pid = lines.isEmpty() ? -1 : parsePid(lines.get(0));
    if (pid <= 0 || !ownsDataDir(pid)) {
      return -1;
    }
    ProcessHandle handle = ProcessHandle.of(pid).orElse(null);
    if (handle == null) {
      return -1;
    }
    log.warn("{}: killing postmaster pid {} and its children with SIGKILL", this, pid);
    List<ProcessHandle> children = handle.descendants().toList();
    handle.destroyForcibly();
    children.forEach(ProcessHandle::destroyForcibly);
    long deadline = System.nanoTime() + KILL_WAIT.toNanos();
    List<Long> pids = new ArrayList<>(children.stream().map(ProcessHandle::pid).toList());
    pids.add(pid);
    for (long each : pids) {
      while (!isDead(each) && System.nanoTime() - deadline < 0) {
        try {
          Thread.sleep(5);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return pid;
        }
      }
    }
    return pid;
  }

  void killTree(Process p) {
    killTree(p.toHandle());
  }

  void killTree(ProcessHandle p) {
    List<ProcessHandle> children = p.descendants().toList();
    p.destroyForcibly();
    children.forEach(ProcessHandle::destroyForcibly);
    long deadline = System.nanoTime() + KILL_WAIT.toNanos();
    boolean interrupted = false;
    try {
      while (!isDead(p.pid())) {
        if (System.nanoTime() - deadline > 0) {
          log.warn("{}: pid {} is still alive {} after SIGKILL", this, p.pid(), KILL_WAIT);
          break;
        }
        Thread.sleep(5);
      }
      // Orphaned children hold the old shared memory until they die; a new postmaster refuses to
      // start while they do. A zombie has released its memory, so it counts as gone.
      for (ProcessHandle child : children) {
        while (!isDead(child.pid())) {
          if (System.nanoTime() - deadline > 0) {
            log.warn("{}: child pid {} is still alive {} after SIGKILL", this, child.pid(), KILL_WAIT);
            break;
          }
          Thread.sleep(5);
        }
      }
    } catch (InterruptedException e) {
      interrupted = true;
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  /** Gone, or a zombie (exited, waiting to be reaped by its new parent). */
  static boolean isDead(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      int close = stat.lastIndexOf(')');
      char state = close >= 0 && close + 2 < stat.length() ? stat.charAt(close + 2) : '?';
      return state == 'Z' || state == 'X';
    } catch (IOException e) {
      return ProcessHandle.of(pid).map(h -> !h.isAlive()).orElse(true);
    }
  }

  boolean signal(String signal, long pid) {
    for (String kill : List.of("/bin/kill", "/usr/bin/kill")) {
      if (Files.isExecutable(Path.of(kill))) {
        try {
          Process p = new ProcessBuilder(kill, "-" + signal, Long.toString(pid)).redirectErrorStream(true).start();
          p.getOutputStream().close();
          String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
          if (p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0) {
            return true;
          }
          log.warn("{}: {} -{} {} failed: {}", this, kill, signal, pid, out.strip());
          return false;
        } catch (IOException e) {
          log.warn("{}: cannot run {}: {}", this, kill, e.toString());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return false;
        }
      }
    }
    log.warn("{}: no kill command at /bin/kill or /usr/bin/kill; cannot send SIG{}", this, signal);
    return false;
  }
}
