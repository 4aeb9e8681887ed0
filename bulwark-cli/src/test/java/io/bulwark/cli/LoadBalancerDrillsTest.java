package io.bulwark.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.bulwark.node.Component;
import io.bulwark.node.DataDir;
import io.bulwark.node.Health;
import io.bulwark.node.LocalDeployment;
import io.bulwark.node.Ports;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Issue 3's drills against real processes, once with the built-in gateway and once with the system's
 * HAProxy: SIGKILL api-main under a steady mixed load, and a rolling restart of both API servers.
 */
class LoadBalancerDrillsTest {
  private static final Pattern REQUESTS = Pattern.compile("^bulwark_http_requests_total\\{route=\"tasks\\.[a-z]+\",status=\"2xx\"} (\\d+)$", Pattern.MULTILINE);
  @TempDir Path root;
  LocalDeployment deployment;

  LocalDeployment start(LocalDeployment.Lb lb) {
    deployment = new LocalDeployment(new DataDir(root), LocalDeployment.Options.defaults().withMonitoring(LocalDeployment.Monitoring.OFF).withPort(Ports.free()).withWorkers(1).withLb(lb).withStandby(false));
    deployment.start();
    return deployment;
  }

  @AfterEach
  void stop() {
    if (deployment != null) deployment.close();
  }

  /** Successful task requests an API server has answered, from its own metrics; -1 while it is down. */
  static long served(int port) {
    try {
      HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics"))
          .timeout(Duration.ofSeconds(1)).build(), HttpResponse.BodyHandlers.ofString());
      long total = 0;
      Matcher m = REQUESTS.matcher(r.body());
      while (m.find()) total += Long.parseLong(m.group(1));
      return total;
    } catch (Exception e) {
      return -1;
    }
  }

  @ParameterizedTest
  @EnumSource(LocalDeployment.Lb.class)
  void sigkill_of_api_main_then_a_rolling_restart_under_200_requests_per_second_fail_no_request(LocalDeployment.Lb lb) throws Exception {
    // one deployment for both drills (a deployment's start is most of a drill's time)
    LocalDeployment d = start(lb);
    sigkillOfApiMain(d, lb);
    rollingRestart(d);
  }

  void sigkillOfApiMain(LocalDeployment d, LocalDeployment.Lb lb) throws Exception {
    Component main = d.apis().get(0);
    Component backup = d.apis().get(1);
    try (SteadyLoad load = new SteadyLoad("http://127.0.0.1:" + d.entryPort(), d.adminKey(), 200, 8)) {
      await().atMost(Duration.ofSeconds(20)).until(() -> load.ok.get() > 400);
      assertThat(served(backup.port)).as("the backup idles while the primary is up").isZero();

      long backupBefore = served(backup.port);
      long killedPid = main.pid();
      long killedAt = System.nanoTime();
      main.process.destroyForcibly();
      await().pollInterval(Duration.ofMillis(10)).atMost(Duration.ofSeconds(10)).until(() -> served(backup.port) > backupBefore);
      Duration backupServing = Duration.ofNanos(System.nanoTime() - killedAt);

      await().atMost(Duration.ofSeconds(30)).until(() -> main.pid() != killedPid && Health.httpHealthy(main.port, "/health/ready"));
      long readyAt = System.nanoTime();
      long mainBefore = served(main.port);
      await().pollInterval(Duration.ofMillis(10)).atMost(Duration.ofSeconds(10)).until(() -> served(main.port) > mainBefore);
      Duration backInService = Duration.ofNanos(System.nanoTime() - readyAt);

      long okBefore = load.ok.get();
      await().atMost(Duration.ofSeconds(10)).until(() -> load.ok.get() > okBefore + 200);
      load.close();
      if (lb == LocalDeployment.Lb.HAPROXY && !load.failures.isEmpty()) {
        // HAProxy's own account of the failed sessions (termination flags other than ----)
        java.nio.file.Files.readAllLines(root.resolve("logs/haproxy.log")).stream()
            .filter(l -> l.contains("HTTP/1.1") && !l.contains(" ---- ")).limit(20).forEach(System.out::println);
      }
      System.out.printf("%s failover: backup serving after %d ms, main back %d ms after ready, slowest request %d ms, %s%n",
          lb, backupServing.toMillis(), backInService.toMillis(), load.slowest().toMillis(), load);
      assertThat(load.failures).as(load.toString()).isEmpty();
      assertThat(backupServing).as("backup serving after the kill").isLessThanOrEqualTo(Duration.ofSeconds(1));
      assertThat(backInService).as("main back in service after it is ready").isLessThanOrEqualTo(Duration.ofSeconds(3));
    }
  }

  void rollingRestart(LocalDeployment d) throws Exception {
    long mainPid = d.apis().get(0).pid();
    long backupPid = d.apis().get(1).pid();
    try (SteadyLoad load = new SteadyLoad("http://127.0.0.1:" + d.entryPort(), d.adminKey(), 200, 8)) {
      await().atMost(Duration.ofSeconds(20)).until(() -> load.ok.get() > 200);
      int exit = Main.run("restart", "api", "--data-dir", root.toString());
      long okAfter = load.ok.get();
      await().atMost(Duration.ofSeconds(10)).until(() -> load.ok.get() > okAfter + 200);
      load.close();
      assertThat(exit).isZero();
      assertThat(d.apis().get(0).pid()).isNotEqualTo(mainPid);
      assertThat(d.apis().get(1).pid()).isNotEqualTo(backupPid);
      assertThat(load.failures).as(load.toString()).isEmpty();
    }
  }
}
