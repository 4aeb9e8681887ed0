package io.bulwark.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.bulwark.core.BulwarkException;
import io.bulwark.node.Balancer;
import io.bulwark.node.DataDir;
import io.bulwark.node.HaproxyRuntime;
import io.bulwark.node.Health;
import io.bulwark.node.RunningComponents;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "restart", mixinStandardHelpOptions = true,
    description = {"Restart the API servers of a running `bulwark up` one at a time, without a failed request.",
        "",
        "For each server: drain it at the load balancer (no new requests), wait for its in-flight requests, stop it",
        "(the supervisor starts it again), wait until it is ready and the load balancer sees it up, return it to",
        "service. Works with the built-in gateway and with --lb haproxy."})
final class RestartCommand implements Callable<Integer> {

  @Parameters(index = "0", paramLabel = "ROLE", description = "What to restart: api")
  String role;

  @Option(names = "--data-dir", defaultValue = DataDir.DEFAULT, paramLabel = "DIR", description = "Data directory (default: ./${DEFAULT-VALUE})")
  Path dataDir;

  @Option(names = "--timeout", defaultValue = "60", description = "Seconds each step may take (default: ${DEFAULT-VALUE})")
  int timeoutSeconds;

  @Override
  public Integer call() throws Exception {
    if (!role.equals("api")) throw new BulwarkException("only `bulwark restart api` is supported, got '" + role + "'");
    DataDir dir = new DataDir(dataDir);
    List<Balancer> balancers = new ArrayList<>(); // every gateway (two with --dns): each must drain the server
    List<String> apis = new ArrayList<>();
    for (JsonNode c : RunningComponents.read(dir).rows()) {
      if (c.path("role").asText().equals("gateway")) {
        balancers.add(c.path("name").asText().equals("haproxy") ? new Balancer.Haproxy(new HaproxyRuntime(dir.run().resolve("haproxy.sock")))
            : new Balancer.Gateway("http://127.0.0.1:" + c.path("adminPort").asInt()));
      }
      if (c.path("role").asText().equals("api")) apis.add(c.path("name").asText());
    }
    if (balancers.isEmpty() || apis.size() < 2) {
      throw new BulwarkException("a zero-downtime restart needs a load balancer and two API servers; found " + apis);
    }
    for (String api : apis) restartOne(dir, balancers, api);
    System.out.println("bulwark: restarted " + String.join(", ", apis) + " without taking the API out of service");
    return 0;
  }

  private void restartOne(DataDir dir, List<Balancer> balancers, String name) throws Exception {
    JsonNode before = component(dir, name);
    long oldPid = before.path("pid").asLong();
    int port = before.path("port").asInt();
    System.out.println("bulwark: " + name + ": draining");
    for (Balancer balancer : balancers) balancer.setState(name, "drain");
    await(name + " to finish its in-flight requests", () -> {
      for (Balancer balancer : balancers) if (balancer.inFlight(name) != 0) return false;
      return true;
    });
    System.out.println("bulwark: " + name + ": stopping pid " + oldPid);
    ProcessHandle.of(oldPid).ifPresent(ProcessHandle::destroy);
    await(name + " to be started again by the supervisor", () -> {
      long pid = component(dir, name).path("pid").asLong();
      return pid > 0 && pid != oldPid;
    });
    await(name + " to be ready", () -> Health.httpHealthy(port, "/health/ready"));
    await("the load balancers to see " + name + " up", () -> {
      for (Balancer balancer : balancers) if (!balancer.isUp(name)) return false;
      return true;
    });
    for (Balancer balancer : balancers) balancer.setState(name, "ready");
    System.out.println("bulwark: " + name + ": back in service (pid " + component(dir, name).path("pid").asLong() + ")");
  }

  private void await(String what, CheckedCondition condition) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(timeoutSeconds).toNanos();
    while (System.nanoTime() < deadline) {
      if (condition.test()) return;
      Thread.sleep(50); // polling the condition against the deadline above
    }
    throw new BulwarkException("timed out after " + timeoutSeconds + " s waiting for " + what + "; see the logs in --data-dir");
  }

  @FunctionalInterface
  interface CheckedCondition {
    boolean test() throws Exception;
  }

  private static JsonNode component(DataDir dir, String name) {
    return RunningComponents.read(dir).named(name);
  }
}
