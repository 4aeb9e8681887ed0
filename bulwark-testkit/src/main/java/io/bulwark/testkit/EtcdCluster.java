package io.bulwark.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.HttpURLConnection;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Real etcd members for tests (Debian's {@code etcd-server}; ./test installs it): one member or a
 * cluster of several, each its own process on loopback with its own data directory, started with
 * {@code setpriv --pdeathsig SIGKILL} so that none outlives the test JVM, and stopped by {@link
 * #close()}. Members can be killed and started again to take quorum away and give it back.
 */
public final class EtcdCluster implements AutoCloseable {
  private final Path root;
  private final List<Member> members = new ArrayList<>();
  private final String token = "bulwark-test-" + UUID.randomUUID();

  /** One etcd member, its client and peer ports, and its process while it runs. */
  public static final class Member {
    final String name;
    final int clientPort;
    final int peerPort;
    Process process;

    Member(String name, int clientPort, int peerPort) {
      this.name = name;
      this.clientPort = clientPort;
      this.peerPort = peerPort;
    }

    public String clientUrl() {
      return "http://127.0.0.1:" + clientPort;
    }

    String peerUrl() {
      return "http://127.0.0.1:" + peerPort;
    }

    public boolean running() {
      return process != null && process.isAlive();
    }
  }

  /** Starts {@code size} members and returns once every one reports itself healthy. */
  public static EtcdCluster start(int size) {
    try {
      EtcdCluster cluster = new EtcdCluster(Files.createTempDirectory("bulwark-etcd-"), size);
      for (Member m : cluster.members) cluster.launch(m);
      for (Member m : cluster.members) cluster.awaitHealthy(m, Duration.ofSeconds(30));
      return cluster;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private EtcdCluster(Path root, int size) throws IOException {
    this.root = root;
    for (int i = 1; i <= size; i++) members.add(new Member("m" + i, freePort(), freePort()));
  }

  public List<Member> members() {
    return List.copyOf(members);
  }

  /** The client URLs of every member, as a client's endpoint list. */
  public List<String> endpoints() {
    return members.stream().map(Member::clientUrl).toList();
  }

  /** SIGKILLs a member. */
  public void kill(Member m) {
    if (m.process != null) {
      m.process.destroyForcibly();
      try {
        m.process.waitFor();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** Starts a killed member again on its data directory, and waits until it is healthy. */
  public void restart(Member m) {
    launch(m);
    awaitHealthy(m, Duration.ofSeconds(30));
  }

  private void launch(Member m) {
    String initialCluster = members.stream().map(x -> x.name + "=" + x.peerUrl()).collect(Collectors.joining(","));
    Path dataDir = root.resolve(m.name);
    List<String> cmd = new ArrayList<>(List.of("setpriv", "--pdeathsig", "SIGKILL", etcdBinary(),
        "--name", m.name, "--data-dir", dataDir.toString(),
        "--listen-client-urls", m.clientUrl(), "--advertise-client-urls", m.clientUrl(),
        "--listen-peer-urls", m.peerUrl(), "--initial-advertise-peer-urls", m.peerUrl(),
        "--initial-cluster", initialCluster, "--initial-cluster-token", token,
        "--initial-cluster-state", "new",
        // test-speed elections: a lost leader is replaced within ~0.5 s instead of ~1 s
        "--heartbeat-interval", "50", "--election-timeout", "500"));
    try {
      m.process = new ProcessBuilder(cmd).redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.appendTo(root.resolve(m.name + ".log").toFile())).start();
    } catch (IOException e) {
      throw new IllegalStateException("cannot start etcd (" + e.getMessage() + "); install it: apt-get install etcd-server", e);
    }
  }

  private void awaitHealthy(Member m, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (!m.running()) throw new IllegalStateException("etcd member " + m.name + " exited; see " + root.resolve(m.name + ".log"));
      if (healthy(m)) return;
      try {
        Thread.sleep(50); // polling the member's /health against the deadline above
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
    throw new IllegalStateException("etcd member " + m.name + " not healthy within " + timeout + "; see " + root.resolve(m.name + ".log"));
  }

  private static boolean healthy(Member m) {
    try {
      HttpURLConnection c = (HttpURLConnection) URI.create(m.clientUrl() + "/health").toURL().openConnection();
      c.setConnectTimeout(500);
      c.setReadTimeout(1000);
      try (var in = c.getInputStream()) {
        return new String(in.readAllBytes()).contains("\"true\"");
      }
    } catch (IOException e) {
      return false;
    }
  }

  static String etcdBinary() {
    for (String candidate : new String[] {"/usr/bin/etcd", "/usr/local/bin/etcd"}) {
      if (Files.isExecutable(Path.of(candidate))) return candidate;
    }
    return "etcd";
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  @Override
  public void close() {
    for (Member m : members) kill(m);
    try (Stream<Path> files = Files.walk(root)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // a temp directory: best effort
    }
  }
}
