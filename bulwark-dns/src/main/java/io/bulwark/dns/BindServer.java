package io.bulwark.dns;

import io.bulwark.core.BulwarkException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A local BIND 9 ({@code named}) serving one zone that takes TSIG-signed dynamic updates: the DNS of
 * {@code bulwark up --dns bind} and of the DNS tests. Everything lives in one directory: named.conf,
 * the zone file (written once; later changes go to named's journal beside it, so a restarted named
 * serves the last switch), the TSIG key in BIND's format (0600), the pid file.
 *
 * <p>named runs in the foreground ({@code -g}, its log on stderr), never outliving its parent
 * ({@code setpriv --pdeathsig SIGKILL}), and unprivileged: it listens on a port above 1024 and needs
 * no capability. As root it runs as PostgreSQL does (see bulwark-embedded-postgres): under
 * {@code unshare -U}, a new user namespace without a uid mapping, where it is uid 65534 with no
 * capability on the host yet still owns its root-owned, 0700 directory, so the data directory's
 * modes need not be opened to another user.
 */
public final class BindServer {
  private static final Logger log = LoggerFactory.getLogger(BindServer.class);

  /**
   * @param dir where named's files live
   * @param host the address named listens on
   * @param port its port (UDP and TCP)
   * @param zone the zone it serves, e.g. bulwark.test
   * @param records names relative to the zone with their initial value (an IPv4 address), e.g. api → 127.0.0.1
   * @param ttl the records' and negative answers' ttl
   */
  public record Config(Path dir, String host, int port, String zone, Map<String, String> records, Duration ttl) {
    public Config {
      zone = DnsRecord.canonical(zone);
      records = new LinkedHashMap<>(records);
    }
  }

  private final Config config;
  private final TsigKey key;

  private BindServer(Config config, TsigKey key) {
    this.config = config;
    this.key = key;
  }

  /**
   * Writes named's configuration (the zone and the key only if they do not exist yet: a restarted
   * deployment keeps its key and its record's last value).
   */
  public static BindServer prepare(Config config) {
    Path dir = config.dir();
    try {
      Files.createDirectories(dir);
      Path keyFile = dir.resolve("tsig.key");
      TsigKey key;
      if (Files.exists(keyFile)) {
        key = TsigKey.read(keyFile);
      } else {
        key = TsigKey.generate("bulwark-dns");
        writeSecret(keyFile, key.toBindFormat());
      }
      Path zoneFile = dir.resolve(config.zone() + ".zone");
      if (!Files.exists(zoneFile)) Files.writeString(zoneFile, zoneText(config));
      writeSecret(dir.resolve("named.conf"), namedConf(config, key));
      return new BindServer(config, key);
    } catch (IOException e) {
      throw new BulwarkException("cannot write BIND's configuration in " + dir + ": " + e.getMessage(), e);
    }
  }

  static String namedConf(Config c, TsigKey key) {
    Path d = c.dir().toAbsolutePath();
    return key.toBindFormat()
        + "options {\n"
        + "\tdirectory \"" + d + "\";\n"
        + "\tpid-file \"" + d.resolve("named.pid") + "\";\n"
        + "\tsession-keyfile \"" + d.resolve("session.key") + "\";\n"
        + "\tlisten-on port " + c.port() + " { " + c.host() + "; };\n"
        + "\tlisten-on-v6 { none; };\n"
        + "\trecursion no;\n"
        + "\tdnssec-validation no;\n"
        + "\tnotify no;\n"
        + "};\n"
        + "controls { };\n" // no rndc channel: stopped by signal, like every other component
        + "zone \"" + c.zone() + "\" {\n"
        + "\ttype primary;\n"
        + "\tfile \"" + d.resolve(c.zone() + ".zone") + "\";\n"
        + "\tallow-update { key \"" + key.name() + "\"; };\n"
        + "};\n";
  }

  static String zoneText(Config c) {
    long ttl = c.ttl().toSeconds();
    StringBuilder z = new StringBuilder()
        .append("$TTL ").append(ttl).append('\n')
        .append("@\tIN\tSOA\tns.").append(c.zone()).append(". hostmaster.").append(c.zone()).append(". 1 60 60 3600 ").append(ttl).append('\n')
        .append("@\tIN\tNS\tns.").append(c.zone()).append(".\n")
        .append("ns\tIN\tA\t").append(c.host()).append('\n');
    c.records().forEach((name, value) -> z.append(name).append("\tIN\tA\t").append(value).append('\n'));
    return z.toString();
  }

  /**
   * The command that runs named in the foreground, unprivileged, dying with its parent. Fails with
   * what to install when BIND is missing.
   */
  public ProcessBuilder command() {
    List<String> cmd = new ArrayList<>();
    if (isRoot()) cmd.addAll(List.of(tool("unshare"), "-U"));
    cmd.addAll(List.of(tool("setpriv"), "--pdeathsig", "SIGKILL", named(), "-g", "-c",
        config.dir().toAbsolutePath().resolve("named.conf").toString()));
    return new ProcessBuilder(cmd).redirectErrorStream(true);
  }

  /** Where named answers. */
  public InetSocketAddress address() {
    return new InetSocketAddress(config.host(), config.port());
  }

  /** The key allowed to update the zone. */
  public TsigKey key() {
    return key;
  }

  /** The file holding {@link #key()} in BIND's format. */
  public Path keyFile() {
    return config.dir().resolve("tsig.key");
  }

  public Config config() {
    return config;
  }

  /** A provider for {@code name} (relative to the zone) on this server. */
  public Rfc2136Provider provider(String name, Duration timeout) {
    return new Rfc2136Provider(address(), key, new DnsRecord(name + "." + config.zone(), config.zone(), DnsRecord.Type.A, config.ttl()),
        timeout);
  }

  /** Whether named answers for the zone with this key now. */
  public boolean answers() {
    try {
      provider("ns", Duration.ofMillis(500)).validate();
      return true;
    } catch (BulwarkException e) {
      return false;
    }
  }

  /** Starts named on its own (tests; `up` supervises {@link #command()}): returns once it answers, or fails with its log. */
  public Process start(Path logFile, Duration timeout) {
    Process p;
    try {
      p = command().redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile())).start();
    } catch (IOException e) {
      throw new BulwarkException("cannot start named: " + e.getMessage(), e);
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!answers()) {
      if (!p.isAlive() || System.nanoTime() > deadline) {
        p.destroyForcibly();
        throw new BulwarkException("named did not answer on " + config.host() + ":" + config.port() + " within " + timeout.toSeconds()
            + " s; its log " + logFile + " ends:\n" + tail(logFile));
      }
      try {
        Thread.sleep(50); // polls named's readiness against the deadline
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        p.destroyForcibly();
        throw new BulwarkException("interrupted while starting named", e);
      }
    }
    log.info("named serves {} on {}:{}", config.zone(), config.host(), config.port());
    return p;
  }

  /** Whether BIND's named is installed. */
  public static boolean installed() {
    return findNamed() != null;
  }

  static String named() {
    String n = findNamed();
    if (n == null) {
      throw new BulwarkException("--dns bind needs BIND 9's named, which is not installed: apt-get install bind9 (Debian/Ubuntu)"
          + " or dnf install bind (Fedora); or run without --dns");
    }
    return n;
  }

  private static String findNamed() {
    return Stream.of("/usr/sbin/named", "/usr/local/sbin/named", "/usr/bin/named").filter(p -> Files.isExecutable(Path.of(p)))
        .findFirst().orElse(null);
  }

  /** setpriv (named never outlives Bulwark) or unshare (named is unprivileged under root), both from util-linux. */
  private static String tool(String name) {
    return Stream.of("/usr/bin/" + name, "/bin/" + name).filter(p -> Files.isExecutable(Path.of(p))).findFirst()
        .orElseThrow(() -> new BulwarkException("found no " + name + " at /usr/bin or /bin, which runs named; apt-get install util-linux"));
  }

  static boolean isRoot() {
    try {
      return ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0;
    } catch (IOException | UnsupportedOperationException e) {
      return false;
    }
  }

  private static void writeSecret(Path file, String text) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.deleteIfExists(tmp);
    Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    Files.writeString(tmp, text, StandardCharsets.UTF_8);
    Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }

  static String tail(Path file) {
    try {
      List<String> lines = Files.readAllLines(file);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 15), lines.size()));
    } catch (IOException e) {
      return "(cannot read it: " + e.getMessage() + ")";
    }
  }
}
