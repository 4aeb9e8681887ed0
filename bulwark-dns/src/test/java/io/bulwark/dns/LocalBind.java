package io.bulwark.dns;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Map;

/**
 * A real BIND 9 for a test: zone {@code bulwark.test} with {@code api} → 127.0.0.1, on a free loopback
 * port, in a directory BIND's unprivileged user can reach. Fails with what to install when named is
 * missing (`.ci/run` and `./test` install bind9).
 */
final class LocalBind implements AutoCloseable {
  static final String ZONE = "bulwark.test";
  static final String NAME = "api.bulwark.test";

  final BindServer server;
  final Path dir;
  private Process process;

  LocalBind() throws IOException {
    if (!BindServer.installed()) {
      throw new IllegalStateException("these tests run the real BIND 9: apt-get install bind9 bind9-utils (./test does it as root)");
    }
    dir = Files.createTempDirectory(Path.of(System.getProperty("java.io.tmpdir")), "bulwark-bind-");
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    server = BindServer.prepare(new BindServer.Config(dir.resolve("named"), "127.0.0.1", port, ZONE, Map.of("api", "127.0.0.1"),
        Duration.ofSeconds(5)));
    start();
  }

  void start() {
    process = server.start(dir.resolve("named.log"), Duration.ofSeconds(20));
  }

  void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor();
  }

  Rfc2136Provider provider() {
    return server.provider("api", Duration.ofSeconds(2));
  }

  @Override
  public void close() throws Exception {
    kill();
    try (var all = Files.walk(dir)) {
      all.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
