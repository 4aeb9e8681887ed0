package io.bulwark.embedded;

import io.bulwark.core.io.Fs;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A data directory's cluster: {@code initdb} (into a temporary sibling renamed into place, or in place
 * on an empty mount point with a marker that makes an interrupted run be redone), and the check that
 * an existing cluster was made by the binaries' major version. {@link EmbeddedPostgres} is the facade.
 */
final class ClusterInit {
  private static final Logger log = LoggerFactory.getLogger(ClusterInit.class);
  private final Path dataDir;
  private final String user;
  private final String password;
  private final Path binariesDir;
  private final List<String> commandPrefix;
  private final String description;
  private final Consumer<String> appendToLog;

  ClusterInit(Path dataDir, String user, String password, Path binariesDir, List<String> commandPrefix, String description,
      Consumer<String> appendToLog) {
    this.dataDir = dataDir;
    this.user = user;
    this.password = password;
    this.binariesDir = binariesDir;
    this.commandPrefix = commandPrefix;
    this.description = description;
    this.appendToLog = appendToLog;
  }

  @Override
  public String toString() {
    return description;
  }

  private static final Duration INITDB_TIMEOUT = Duration.ofMinutes(5);
  private static final Pattern VERSION_OUTPUT = Pattern.compile("\\(PostgreSQL\\)\\s+(\\d+)");
  private volatile Integer binariesMajor;
  /** Whether the data directory holds an initialized cluster (has PG_VERSION). */
  boolean isInitialized() {
    return Files.isRegularFile(dataDir.resolve("PG_VERSION"));
  }

  /**
   * Runs initdb unless the data directory is initialized; checks that an existing cluster's major
   * version matches the binaries.
   *
   * <p>initdb runs in a temporary sibling directory that is then renamed onto {@link #dataDir()}
   * (missing, or an empty directory), so a crash never leaves a half-initialized cluster there. If
   * dataDir is an empty mount point (another file system than its parent), initdb runs in place,
   * with a marker file next to it so that an interrupted run is cleaned up and redone next time.
   *
   * @throws EmbeddedPostgresException if initdb fails (with its output), if dataDir is not empty
   *     but no cluster, or if the cluster was made by another PostgreSQL major version
   */
  void initIfNeeded() {
    try {
      Path parent = dataDir.getParent();
      String name = dataDir.getFileName().toString();
      Path inPlaceMarker = parent.resolve("." + name + ".initdb-incomplete");
      if (Files.exists(inPlaceMarker)) {
        recoverInterruptedInPlaceInit(inPlaceMarker);
      }
      if (isInitialized()) {
        checkMajorVersion();
        return;
      }
      Files.createDirectories(parent);
      removeInitLeftovers(parent, name);
      boolean exists = Files.exists(dataDir);
      if (exists) {
        if (!Files.isDirectory(dataDir)) {
          throw new EmbeddedPostgresException(
              "data directory " + dataDir + " exists but is not a directory; remove it or choose another dataDir");
        }
        try (Stream<Path> entries = Files.list(dataDir)) {
          List<String> some = entries.limit(5).map(p -> p.getFileName().toString()).sorted().toList();
          if (!some.isEmpty()) {
            throw new EmbeddedPostgresException(
                "data directory " + dataDir + " is not empty (contains " + String.join(", ", some)
                    + ") but has no PG_VERSION, so it is not a PostgreSQL data directory; refusing to"
                    + " run initdb over it. Empty it, or choose another dataDir");
          }
        }
      }
      boolean inPlace = exists && !Files.getFileStore(dataDir).equals(Files.getFileStore(parent));
      if (inPlace) {
        Fs.writeSynced(inPlaceMarker, new byte[0]);
        Fs.fsync(parent);
      }
      Path target =
          inPlace ? dataDir : Files.createTempDirectory(parent, "." + name + ".initdb-", Fs.attribute(Fs.PRIVATE_DIR));
      Path pwfile = Files.createTempFile(parent, "." + name + ".pw-", "", Fs.attribute(Fs.PRIVATE_FILE));
      boolean done = false;
      try {
        Files.writeString(pwfile, password + "\n", StandardCharsets.UTF_8);
        runInitdb(target, pwfile);
        ServerSettings.ensureIncludeLine(target);
        if (inPlace) {
          Files.delete(inPlaceMarker);
        } else {
          // rename(2) atomically replaces an empty directory
          Files.move(target, dataDir, StandardCopyOption.ATOMIC_MOVE);
        }
        Fs.fsync(parent);
        done = true;
        log.info("{}: initialized a PostgreSQL {} cluster (superuser {}, data checksums on)", this, binariesMajor(), user);
      } finally {
        Files.deleteIfExists(pwfile);
        if (!done) {
          if (inPlace) {
            Fs.deleteContents(dataDir);
            Files.deleteIfExists(inPlaceMarker);
          } else {
            Fs.deleteRecursively(target);
          }
        }
      }
    } catch (IOException e) {
      throw new EmbeddedPostgresException("cannot initialize data directory " + dataDir + ": " + e, e);
    }
  }

  /**
   * The marker says initdb was running in place and did not finish. Its remains are deleted,
   * unless a postmaster has run on the directory since (postmaster.opts exists): then the cluster
   * is in use and only the marker goes.
   */
  private void recoverInterruptedInPlaceInit(Path marker) throws IOException {
    if (Files.isDirectory(dataDir)) {
      if (Files.exists(dataDir.resolve("postmaster.opts"))) {
        log.warn("{}: ignoring stale marker {}: the cluster has been started since", this, marker);
      } else {
        log.warn("{}: removing the remains of an interrupted initdb", this);
        Fs.deleteContents(dataDir);
      }
    }
    Files.delete(marker);
    Fs.fsync(marker.getParent());
  }

  private void runInitdb(Path target, Path pwfile) throws IOException {
    List<String> command = new ArrayList<>(commandPrefix);
    command.addAll(
        List.of(
            binariesDir.resolve("bin/initdb").toString(),
            "-D", target.toString(),
            "-U", user,
            "--pwfile=" + pwfile,
            "--auth=scram-sha-256",
            "-E", "UTF8",
            "--locale=C",
            "--data-checksums",
            "--no-instructions"));
    Path output = Files.createTempFile(target.getParent(), "." + dataDir.getFileName() + ".initdb-", ".out");
    try {
      log.info("{}: running initdb", this);
      ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(output.toFile());
      EmbeddedPostgres.scrubEnvironment(pb.environment());
      Process initdb = pb.start();
      initdb.getOutputStream().close();
      boolean exited;
      try {
        exited = initdb.waitFor(INITDB_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        initdb.destroyForcibly();
        Thread.currentThread().interrupt();
        throw new EmbeddedPostgresException("interrupted while running initdb for " + dataDir, e);
      }
      if (!exited) {
        initdb.destroyForcibly();
      }
      String text = Files.readString(output, StandardCharsets.UTF_8);
      appendToLog.accept("initdb output:\n" + text);
      if (!exited || initdb.exitValue() != 0) {
        String why = exited ? "exited with status " + initdb.exitValue() : "did not finish within " + INITDB_TIMEOUT;
        String hint =
            text.contains("unshare")
                ? "\nunshare -U could not create a user namespace; allow user namespaces"
                    + " (sysctl user.max_user_namespaces > 0) or run Bulwark as a non-root user."
                : "";
        throw new EmbeddedPostgresException(
            "initdb for " + dataDir + " " + why + "; its output:\n" + text.strip() + hint);
      }
    } finally {
      Files.deleteIfExists(output);
    }
  }

  private static void removeInitLeftovers(Path parent, String name) throws IOException {
    try (Stream<Path> siblings = Files.list(parent)) {
      for (Path p : siblings.toList()) {
        String f = p.getFileName().toString();
        if ((f.startsWith("." + name + ".initdb-") && !f.endsWith("-incomplete"))
            || f.startsWith("." + name + ".pw-")) {
          log.info("Removing leftover of an interrupted initdb: {}", p);
          Fs.deleteRecursively(p);
        }
      }
    }
  }

  private void checkMajorVersion() {
    String clusterMajor;
    try {
      clusterMajor = Files.readString(dataDir.resolve("PG_VERSION"), StandardCharsets.UTF_8).strip();
    } catch (IOException e) {
      throw new EmbeddedPostgresException("cannot read " + dataDir.resolve("PG_VERSION") + ": " + e, e);
    }
    int binaries = binariesMajor();
    if (!clusterMajor.equals(Integer.toString(binaries))) {
      throw new EmbeddedPostgresException(
          "data directory " + dataDir + " was created by PostgreSQL " + clusterMajor + ", but the binaries in "
              + binariesDir + " are PostgreSQL " + binaries + "; a server cannot open another major version's"
              + " data directory. Upgrade it with pg_upgrade (or dump and restore), or use PostgreSQL "
              + clusterMajor + " binaries");
    }
  }

  /** The major version of the configured binaries, from {@code postgres --version}. */
  int binariesMajor() {
    Integer cached = binariesMajor;
    if (cached != null) {
      return cached;
    }
    String postgres = binariesDir.resolve("bin/postgres").toString();
    try {
      ProcessBuilder pb = new ProcessBuilder(postgres, "--version").redirectErrorStream(true);
      EmbeddedPostgres.scrubEnvironment(pb.environment());
      Process p = pb.start();
      p.getOutputStream().close();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      p.waitFor(30, TimeUnit.SECONDS);
      Matcher m = VERSION_OUTPUT.matcher(out);
      if (!m.find()) {
        throw new EmbeddedPostgresException("cannot tell the PostgreSQL version of " + postgres + ": '" + out.strip() + "'");
      }
      cached = Integer.valueOf(m.group(1));
      binariesMajor = cached;
      return cached;
    } catch (IOException e) {
      throw new EmbeddedPostgresException("cannot run " + postgres + " --version: " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new EmbeddedPostgresException("interrupted while running " + postgres + " --version", e);
    }
  }
}
