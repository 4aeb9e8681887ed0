package io.bulwark.embedded;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;

/**
 * The parent of a postmaster that must outlive a restart of its supervisor, but never by more than
 * the supervisor allows: a few lines of bash (no JVM, no fork while it waits) that run the server in
 * a process group of its own, re-read a deadline from a file, and SIGKILL the whole group the moment
 * it passes. The supervisor moves the deadline forward while it lives (a primary: up to what its
 * leader lease allows; {@code DatabaseMember}); a supervisor that exits or hangs stops moving it, so
 * the server lives on only until then, which is what lets a restarted supervisor adopt a running
 * primary without a failover and without ever leaving a primary that nobody fences. The postmaster
 * itself runs under {@code setpriv --pdeathsig SIGKILL}, so it dies if the keeper does.
 *
 * <p>The deadline is in the kernel's uptime ({@code /proc/uptime}, hundredths of a second, which
 * no wall-clock change moves), written atomically (a rename); an unreadable file counts as passed.
 * The keeper looks at it every 50-500 ms (half the time left, so a deadline moved closer is seen in
 * time): about a tenth of a per cent of a core.
 */
final class Keeper {
  /** $1: the deadline file; the rest: the server's command. Exits with the server, or 3 when it killed it. */
  static final String SCRIPT = """
      f=$1; shift
      set -m
      "$@" </dev/null &
      pg=$!
      exec {z}<> <(:)
      while kill -0 "$pg" 2>/dev/null; do
        until=0; read -r until < "$f" 2>/dev/null; [[ $until =~ ^[0-9]+$ ]] || until=0
        read -r up _ < /proc/uptime; up=${up/./}
        left=$(( 10#${until:-0} - 10#$up ))
        if (( left < 0 )); then
          echo "bulwark-keeper: the supervisor did not extend the deadline in $f; killing the server (pid $pg) and its backends" >&2
          kill -KILL -- "-$pg" 2>/dev/null; kill -KILL "$pg" 2>/dev/null
          exit 3
        fi
        t=$(( left / 2 )); (( t < 5 )) && t=5; (( t > 50 )) && t=50
        printf -v s '%d.%02d' $(( t / 100 )) $(( t % 100 ))
        read -t "$s" -u "$z"
      done
      wait "$pg"
      """;

  private final Path deadlineFile;

  Keeper(Path deadlineFile) {
    this.deadlineFile = deadlineFile;
  }

  Path deadlineFile() {
    return deadlineFile;
  }

  /** The argv prefix that runs a command under this keeper. */
  List<String> prefix() {
    return List.of(bash(), "-c", SCRIPT, "bulwark-keeper", deadlineFile.toString());
  }

  /** The keeper lets the server live until {@code fromNow} from now (and kills it then unless moved again). */
  void holdFor(Duration fromNow) {
    long until = uptimeCentis() + Math.max(0, fromNow.toMillis() / 10);
    Path tmp = deadlineFile.resolveSibling(deadlineFile.getFileName() + ".tmp");
    try {
      Files.createDirectories(deadlineFile.getParent());
      Files.writeString(tmp, until + "\n", StandardCharsets.UTF_8);
      Files.move(tmp, deadlineFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new EmbeddedPostgresException("cannot write the keeper's deadline " + deadlineFile + ": " + e, e);
    }
  }

  /** The kernel's uptime in hundredths of a second, as the keeper reads it. */
  static long uptimeCentis() {
    try {
      String up = Files.readString(Path.of("/proc/uptime"), StandardCharsets.US_ASCII);
      return Long.parseLong(up.substring(0, up.indexOf(' ')).replace(".", ""));
    } catch (IOException | RuntimeException e) {
      throw new EmbeddedPostgresException("cannot read /proc/uptime, which the keeper's deadline is measured in: " + e, e);
    }
  }

  private static String bash() {
    for (String candidate : List.of("/bin/bash", "/usr/bin/bash")) {
      if (Files.isExecutable(Path.of(candidate))) return candidate;
    }
    throw new EmbeddedPostgresException("found no bash at /bin/bash or /usr/bin/bash, which keeps PostgreSQL running across a"
        + " restart of its agent; install bash");
  }
}
