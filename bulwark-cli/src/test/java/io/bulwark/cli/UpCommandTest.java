package io.bulwark.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.bulwark.node.Ports;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `bulwark up`, `status`, `down` as a user runs them: separate processes of the real CLI. */
@ParallelSafe
class UpCommandTest {
  @TempDir Path work;

  /** Runs the CLI in a child JVM; output goes to a file so the test can read it while it runs. */
  Process cli(Path output, String... args) throws IOException {
    List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "-cp",
        System.getProperty("java.class.path"), Main.class.getName()));
    cmd.addAll(List.of(args));
    return new ProcessBuilder(cmd).directory(work.toFile()).redirectErrorStream(true).redirectOutput(output.toFile()).start();
  }

  String run(String... args) throws Exception {
    Path out = Files.createTempFile(work, "cli", ".out");
    Process p = cli(out, args);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    return p.exitValue() + "\n" + Files.readString(out);
  }

  @Test
  void up_status_second_up_down_and_restart_on_the_same_data_dir() throws Exception {
    int port = Ports.free();
    Path upLog = work.resolve("up.log");
    Process up = cli(upLog, "up", "--data-dir", "data", "--port", Integer.toString(port), "--workers", "1");
    try {
      await().atMost(Duration.ofSeconds(90)).until(() -> Files.readString(upLog).contains("Bulwark is up"));
      String banner = Files.readString(upLog);
      Path keyFile = work.resolve("data/admin.key");
      String key = Files.readString(keyFile).trim();
      assertThat(banner).contains("Admin API key").contains(key);
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(keyFile))).isEqualTo("rw-------");

      // the standby is built from a base backup of the primary in the background: healthy soon after "up"
      // untilAsserted: a timeout shows the last output, not just that it was not "0"
      await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(run("status", "--data-dir", "data", "--json")).startsWith("0\n"));
      String status = run("status", "--data-dir", "data", "--json");
      assertThat(status).startsWith("0\n");
      JsonNode rows = new ObjectMapper().readTree(status.substring(2));
      Set<String> roles = new HashSet<>();
      for (JsonNode r : rows) {
        assertThat(r.has("name") && r.has("pid") && r.has("port")).isTrue();
        assertThat(r.get("healthy").asBoolean()).as(r.toString()).isTrue();
        roles.add(r.get("role").asText());
      }
      assertThat(roles).containsExactlyInAnyOrder("pg-primary", "pg-standby", "api", "gateway", "worker", "monitor");
      // eligible once the standby streams synchronously and has flushed past the switch; on a busy machine
      // (CI runs this beside every module's tests) that has taken over 30 s after the standby's base backup
      await().atMost(Duration.ofSeconds(90)).untilAsserted(() -> assertThat(run("db", "status", "--data-dir", "data")).startsWith("0\n"));
      JsonNode db = new ObjectMapper().readTree(run("db", "status", "--data-dir", "data", "--json").substring(2));
      assertThat(db.at("/cluster/primary").asText()).isEqualTo("pg-a");
      assertThat(db.at("/cluster/replicationMode").asText()).isEqualTo("synchronous");
      assertThat(db.at("/cluster/standbyEligible").asBoolean()).isTrue();

      String second = run("up", "--data-dir", "data", "--port", Integer.toString(Ports.free()));
      assertThat(second).startsWith("1\n").contains("already running");

      String down = run("down", "--data-dir", "data");
      assertThat(down).startsWith("0\n").contains("stopped");
      assertThat(up.waitFor(30, TimeUnit.SECONDS)).isTrue();
      assertThat(up.exitValue()).isZero();
      assertThat(run("status", "--data-dir", "data")).startsWith("2\n").contains("nothing is running");

      // a second up reuses the database and the key (no new key is printed); this one serves HTTPS
      // with a self-signed certificate it makes, and says so
      Path upLog2 = work.resolve("up2.log");
      up = cli(upLog2, "up", "--data-dir", "data", "--port", Integer.toString(port), "--workers", "1", "--tls");
      await().atMost(Duration.ofSeconds(90)).until(() -> Files.readString(upLog2).contains("Bulwark is up"));
      assertThat(Files.readString(upLog2)).doesNotContain("Admin API key")
          .contains("API: https://127.0.0.1:" + port).contains("self-signed certificate, for local use only");
      assertThat(Files.readString(keyFile).trim()).isEqualTo(key);
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(work.resolve("data/tls/gateway.key")))).isEqualTo("rw-------");
      io.bulwark.core.tls.Certificates.writeSelfSigned(work.resolve("other.crt"), work.resolve("other.key"), "localhost", List.of(),
          List.of("127.0.0.1"), 1);
      assertThat(run("submit", "--data-dir", "data", "--url", "https://127.0.0.1:" + port, "--type", "noop", "--cacert",
          work.resolve("other.crt").toString())).startsWith("1\n").contains("TLS handshake with https://127.0.0.1:" + port + " failed");
      await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(run("status", "--data-dir", "data")).startsWith("0\n")); // gateway checked over HTTPS
      String submitted = run("submit", "--data-dir", "data", "--url", "https://127.0.0.1:" + port, "--type", "sha256",
          "--input", "\"hello\"", "--wait");
      assertThat(submitted).startsWith("0\n")
          .contains("\"state\" : \"succeeded\"")
          .contains("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    } finally {
      up.destroy();
      up.waitFor(30, TimeUnit.SECONDS);
    }
  }

  @Test
  void after_the_supervisor_is_sigkilled_its_roles_exit_and_a_new_up_takes_over_the_data_dir() throws Exception {
    int port = Ports.free();
    Path log1 = work.resolve("first.log");
    Process first = cli(log1, "up", "--data-dir", "data", "--port", Integer.toString(port), "--workers", "1");
    Process second = null;
    try {
      await().atMost(Duration.ofSeconds(90)).until(() -> Files.readString(log1).contains("Bulwark is up"));
      JsonNode rows = new ObjectMapper().readTree(work.resolve("data/run/components.json").toFile());
      List<ProcessHandle> roles = new ArrayList<>();
      for (JsonNode r : rows) {
        if (!r.get("role").asText().startsWith("pg-")) roles.add(ProcessHandle.of(r.get("pid").asLong()).orElseThrow());
      }
      first.destroyForcibly().waitFor(10, TimeUnit.SECONDS); // SIGKILL: no shutdown hook runs
      await().atMost(Duration.ofSeconds(15)).until(() -> roles.stream().noneMatch(ProcessHandle::isAlive));

      Path log2 = work.resolve("second.log");
      second = cli(log2, "up", "--data-dir", "data", "--port", Integer.toString(port), "--workers", "1");
      Process started = second;
      await().atMost(Duration.ofSeconds(90)).until(() -> Files.readString(log2).contains("Bulwark is up") || !started.isAlive());
      assertThat(Files.readString(log2)).contains("still running from a supervisor that died").contains("Bulwark is up");
    } finally {
      first.destroy();
      if (second != null) {
        second.destroy();
        second.waitFor(30, TimeUnit.SECONDS);
      }
    }
  }

  /** Runs the CLI in this JVM (a JVM each would cost seconds; the launcher is covered above): exit code, newline, output. */
  static String runHere(String... args) {
    java.io.ByteArrayOutputStream buffer = new java.io.ByteArrayOutputStream();
    java.io.PrintStream out = System.out;
    java.io.PrintStream err = System.err;
    java.io.PrintStream both = new java.io.PrintStream(buffer, true, StandardCharsets.UTF_8);
    System.setOut(both);
    System.setErr(both);
    try {
      int code = Main.run(args);
      return code + "\n" + buffer.toString(StandardCharsets.UTF_8);
    } finally {
      System.setOut(out);
      System.setErr(err);
    }
  }

  @Test
  void bad_arguments_fail_with_one_line_and_a_non_zero_exit() throws Exception {
    assertThat(run("up", "--workers", "-3", "--data-dir", "d")).startsWith("1\n").contains("--workers must be 0-64");
    assertThat(runHere("up", "--archive-lag", "soon", "--data-dir", work.resolve("d").toString(), "--port", Integer.toString(Ports.free())))
        .startsWith("1\n").contains("--archive-lag must be a number with a unit");
    assertThat(runHere("db", "failover", "--data-dir", work.resolve("nothing-here").toString())).startsWith("1\n").contains("nothing is running");
    assertThat(runHere("submit", "--type", "noop", "--input", "{oops", "--key", "x")).startsWith("1\n").contains("--input is not valid JSON");
    assertThat(runHere("submit", "--type", "noop", "--key", "x", "--retry-for", "0s", "--url", "http://127.0.0.1:" + Ports.free()))
        .startsWith("1\n").contains("cannot reach").doesNotContain("at java.");
    assertThat(runHere("gateway", "--backend", "api-main=http://127.0.0.1:1", "--upstream-timeout", "forever"))
        .startsWith("1\n").contains("--upstream-timeout must be a number with a unit");
    assertThat(runHere("gateway", "--backend", "api-main=http://127.0.0.1:1", "--upstream-connect-timeout", "5s", "--upstream-timeout", "2s"))
        .startsWith("1\n").contains("upstream connect timeout (5000 ms) cannot exceed the upstream timeout (2000 ms)");
    assertThat(runHere("gateway", "--backend", "api-main=http://127.0.0.1:1", "--tls-cert", "gateway.crt"))
        .startsWith("1\n").contains("HTTPS needs both --tls-cert FILE and --tls-key FILE");
    assertThat(runHere("gateway", "--backend", "api-main=http://127.0.0.1:1", "--tls-cert", "nope.crt", "--tls-key", "nope.key"))
        .startsWith("1\n").contains("cannot read the TLS certificate nope.crt");
    assertThat(runHere("up", "--tls", "--lb", "haproxy", "--data-dir", work.resolve("d").toString()))
        .startsWith("1\n").contains("terminate TLS in HAProxy");
    assertThat(runHere("frobnicate")).startsWith("2\n").contains("Unmatched argument");
  }
}
