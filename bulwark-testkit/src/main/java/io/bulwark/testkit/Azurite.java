package io.bulwark.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.HttpURLConnection;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * A real Azurite blob service for tests ({@code npm install -g azurite@3.37}, which provides {@code azurite-blob}):
 * one Node process on 127.0.0.1 and a free port, keeping its data in a temporary directory, started with {@code
 * setpriv --pdeathsig SIGKILL} so that it never outlives the test JVM, and stopped by {@link #close()}. It serves
 * Azurite's well-known development account {@value #ACCOUNT}; {@link #kill()} and {@link #restart()} take the
 * "region" away and bring it back on the same port and data for disaster drills.
 *
 * <p>Azurite keeps its metadata in a LokiJS database that it saves every few seconds, so a {@link #kill()} loses
 * what changed in the last seconds before it (containers and blobs); the blob bytes themselves are files. Call
 * {@link #start()} and {@link #restart()} from a long-lived thread: the kernel's parent-death signal fires when the
 * <em>thread</em> that started the process ends.
 */
public final class Azurite implements AutoCloseable {
  /** Azurite's development storage account. */
  public static final String ACCOUNT = "devstoreaccount1";
  /** The documented, public key of {@link #ACCOUNT}; no secret. */
  public static final String ACCOUNT_KEY =
      "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
  private static final String INSTALL = "these tests run the real Azurite: npm install -g azurite@3.37";
  private static final Duration STARTUP = Duration.ofSeconds(60);

  private final Path root;
  private final int port;
  private Process process;

  private Azurite(Path root, int port) {
    this.root = root;
    this.port = port;
  }

  /** Starts Azurite's blob service and returns once it answers HTTP. */
  public static Azurite start() {
    String binary = binary();
    try {
      Azurite azurite = new Azurite(Files.createTempDirectory("bulwark-azurite-"), freePort());
      Files.createDirectories(azurite.root.resolve("data"));
      azurite.launch(binary);
      return azurite;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The connection string of {@link #ACCOUNT} on this instance. */
  public String connectionString() {
    return "DefaultEndpointsProtocol=http;AccountName=" + ACCOUNT + ";AccountKey=" + ACCOUNT_KEY
        + ";BlobEndpoint=" + blobEndpoint() + ";";
  }

  /** {@code http://127.0.0.1:PORT/devstoreaccount1}. */
  public String blobEndpoint() {
    return "http://127.0.0.1:" + port + "/" + ACCOUNT;
  }

  public int port() {
    return port;
  }

  public boolean running() {
    return process != null && process.isAlive();
  }

  /** SIGKILLs Azurite, as a lost region; its port then refuses connections. */
  public void kill() {
    if (process == null) return;
    process.destroyForcibly(); // SIGKILL: setpriv exec'd env, which exec'd node, so this is the node process
    try {
      process.waitFor();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Starts a killed Azurite again on the same port and data directory, and waits until it answers. */
  public void restart() {
    if (running()) throw new IllegalStateException("Azurite on port " + port + " is still running; kill() it first");
    launch(binary());
  }

  private void launch(String binary) {
    List<String> cmd = List.of("setpriv", "--pdeathsig", "SIGKILL", binary,
        "--blobHost", "127.0.0.1", "--blobPort", Integer.toString(port),
        "--location", root.resolve("data").toString(),
        "--silent", "--skipApiVersionCheck", "--loose", "--disableTelemetry");
    Path logFile = root.resolve("azurite.log");
    try {
      process = new ProcessBuilder(cmd).redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile())).start();
    } catch (IOException e) {
      throw new IllegalStateException("cannot start " + binary + " (" + e.getMessage() + "); " + INSTALL, e);
    }
    long deadline = System.nanoTime() + STARTUP.toNanos();
    while (!answers()) {
      if (!process.isAlive()) {
        throw new IllegalStateException("Azurite exited with status " + process.exitValue() + " on port " + port
            + "; see " + logFile);
      }
      if (System.nanoTime() > deadline) {
        kill();
        throw new IllegalStateException("Azurite did not answer on port " + port + " within " + STARTUP + "; see " + logFile);
      }
      try {
        Thread.sleep(50); // polling against the deadline above
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for Azurite", e);
      }
    }
  }

  /** Whether the blob service answers HTTP at all (an unsigned request gets an error status, which is enough). */
  private boolean answers() {
    try {
      HttpURLConnection c = (HttpURLConnection) URI.create(blobEndpoint() + "?comp=list").toURL().openConnection();
      c.setConnectTimeout(500);
      c.setReadTimeout(2000);
      try {
        return c.getResponseCode() > 0;
      } finally {
        c.disconnect();
      }
    } catch (IOException e) {
      return false;
    }
  }

  private static String binary() {
    for (String candidate : new String[] {"/usr/bin/azurite-blob", "/usr/local/bin/azurite-blob"}) {
      if (Files.isExecutable(Path.of(candidate))) return candidate;
    }
    for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "azurite-blob"))) return Path.of(dir, "azurite-blob").toString();
    }
    throw new IllegalStateException("azurite-blob is not installed; " + INSTALL);
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  @Override
  public void close() {
    kill();
    try (Stream<Path> files = Files.walk(root)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // a temp directory: best effort
    }
  }

  @Override
  public String toString() {
    return "Azurite[" + blobEndpoint() + "]";
  }
}
