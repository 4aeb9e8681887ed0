package io.bulwark.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.bulwark.node.Component;
import io.bulwark.node.DataDir;
import io.bulwark.node.LocalDeployment;
import io.bulwark.node.Ports;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real Nagios 4 (Debian's nagios4-core) runs the configuration `bulwark nagios-config` writes
 * against a running deployment: every service OK, then a killed component reaches HARD CRITICAL and
 * its notification goes to the manager.
 */
class NagiosTest {
  private static final Pattern BLOCK = Pattern.compile("servicestatus \\{(.*?)\\}", Pattern.DOTALL);
  @TempDir static Path root;
  @TempDir static Path work;
  static LocalDeployment deployment;
  static Process nagios;

  @BeforeAll
  static void up() throws Exception {
    if (!Files.isExecutable(Path.of("/usr/sbin/nagios4"))) {
      throw new IllegalStateException("this test runs the real Nagios 4: apt-get install nagios4-core (./test does it as root)");
    }
    // Nagios does the checking here (the built-in monitor is MonitorDrillTest's): one JVM fewer on a saturated machine
    deployment = new LocalDeployment(new DataDir(root), LocalDeployment.Options.defaults().withMonitoring(LocalDeployment.Monitoring.OFF).withPort(Ports.free()).withWorkers(1)
        .withStandby(false));
    deployment.start();
    // what Nagios runs: this build of bulwark (a launcher script would rebuild in the middle of a test run)
    Path launcher = work.resolve("bulwark");
    Files.writeString(launcher, "#!/bin/sh\nexec " + ProcessHandle.current().info().command().orElse("java")
        + " -Xmx64m -XX:TieredStopAtLevel=1 -Xshare:auto -cp '" + System.getProperty("java.class.path") + "' " + Main.class.getName() + " \"$@\"\n");
    Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path cfg = work.resolve("nagios");
    String out = DatabaseFailoverDrillTest.cli("nagios-config", "--data-dir", root.toString(), "--bulwark", launcher.toString(),
        "--write", cfg.toString(), "--check-interval", "10"); // each check is a JVM (~0.5 s of CPU): 19 services every 2 s would need ~5 cores
    assertThat(out).startsWith("0\n");
    List<String> prefix = new ArrayList<>();
    if (((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0) prefix.addAll(List.of("unshare", "-U"));
    List<String> verify = new ArrayList<>(prefix);
    verify.addAll(List.of("/usr/sbin/nagios4", "-v", cfg.resolve("nagios.cfg").toString()));
    Process v = new ProcessBuilder(verify).redirectErrorStream(true).start();
    String verified = new String(v.getInputStream().readAllBytes());
    assertThat(v.waitFor()).as(verified).isZero();
    List<String> run = new ArrayList<>(prefix);
    run.addAll(List.of("setpriv", "--pdeathsig", "SIGKILL", "/usr/sbin/nagios4", cfg.resolve("nagios.cfg").toString()));
    nagios = new ProcessBuilder(run).redirectErrorStream(true).redirectOutput(work.resolve("nagios-stdout.log").toFile()).start();
  }

  @AfterAll
  static void down() throws Exception {
    if (nagios != null) {
      nagios.destroy();
      nagios.waitFor(10, TimeUnit.SECONDS);
    }
    if (deployment != null) deployment.close();
  }

  /** Each service's current_state, state_type and output, from Nagios's status file. */
  static Map<String, String[]> services() throws Exception {
    Path status = work.resolve("nagios/status.dat");
    Map<String, String[]> out = new HashMap<>();
    if (!Files.exists(status)) return out;
    Matcher m = BLOCK.matcher(Files.readString(status));
    while (m.find()) {
      Map<String, String> d = new HashMap<>();
      for (String line : m.group(1).strip().split("\n")) {
        int eq = line.indexOf('=');
        if (eq > 0) d.put(line.substring(0, eq).strip(), line.substring(eq + 1));
      }
      out.put(d.get("service_description"), new String[] {d.get("current_state"), d.get("state_type"), d.get("plugin_output"),
          d.get("has_been_checked")});
    }
    return out;
  }

  @Test
  void nagios_runs_every_check_and_a_killed_component_reaches_hard_critical() throws Exception {
    try {
      await().atMost(Duration.ofSeconds(180)).pollInterval(Duration.ofSeconds(1)).until(() -> {
        Map<String, String[]> s = services();
        return s.size() >= 10 && s.values().stream().allMatch(v -> "1".equals(v[3]) && "0".equals(v[0]));
      });
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      StringBuilder not = new StringBuilder();
      services().forEach((k, v) -> {
        if (!"1".equals(v[3]) || !"0".equals(v[0])) not.append("\n  ").append(k).append(": ").append(java.util.Arrays.toString(v));
      });
      throw new AssertionError("not every service OK in Nagios within 180 s:" + not, e);
    }
    Map<String, String[]> ok = services();
    assertThat(ok).containsKeys("component worker-1", "component api-main", "database", "failover", "archive", "disk", "crash-loop");
    assertThat(ok.get("database")[2]).contains("accepts connections");
    Component worker = deployment.workers().get(0);
    deployment.supervisor().stopRestarting(); // it stays down (and stays in the component table Nagios checks)
    long killed = System.nanoTime();
    worker.process.destroyForcibly();
    try {
      await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(250)).until(() -> {
        String[] w = services().get("component worker-1");
        return w != null && "2".equals(w[0]) && "1".equals(w[1]);
      });
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      String[] w = services().get("component worker-1");
      throw new AssertionError("worker-1 in Nagios: " + (w == null ? "absent" : java.util.Arrays.toString(w)) + "; nagios.log ends: "
          + LocalDeployment.tail(work.resolve("nagios/nagios.log"), 15), e);
    }
    System.out.printf("DRILL nagios: component worker-1 HARD CRITICAL in Nagios 4 %d ms after SIGKILL (check every 10 s, retry every 1 s,"
        + " 3 attempts)%n", (System.nanoTime() - killed) / 1_000_000);
    assertThat(services().get("component worker-1")[2]).contains("worker-1 is not running");
    await().atMost(Duration.ofSeconds(30)).until(() -> Files.exists(root.resolve("logs/nagios-notifications.log"))
        && Files.readString(root.resolve("logs/nagios-notifications.log")).contains("component worker-1 CRITICAL to manager@example.com"));
    assertThat(DatabaseFailoverDrillTest.cli("check", "nothing", "--data-dir", root.toString())).startsWith("3\n").contains("the checks are");
  }
}
