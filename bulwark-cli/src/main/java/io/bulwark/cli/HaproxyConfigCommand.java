package io.bulwark.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.bulwark.core.BulwarkException;
import io.bulwark.node.DataDir;
import io.bulwark.node.HaproxyConfig;
import io.bulwark.node.Health;
import io.bulwark.node.RunningComponents;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "haproxy-config", mixinStandardHelpOptions = true,
    description = {"Print a complete haproxy.cfg with the built-in gateway's semantics.",
        "",
        "Health checks of /health/ready with the same timings, a backup server, one retry on another server for",
        "safe requests (option redispatch, retry-on conn-failure), X-Request-Id, and an admin stats socket.",
        "Uses the API servers of a running `bulwark up` on --data-dir, else the --backend/--backup flags."})
final class HaproxyConfigCommand implements Callable<Integer> {
  @Option(names = "--data-dir", defaultValue = DataDir.DEFAULT, paramLabel = "DIR", description = "Data directory (default: ./${DEFAULT-VALUE})")
  Path dataDir;

  @Option(names = "--port", defaultValue = "8080", description = "Port HAProxy listens on (default: ${DEFAULT-VALUE})")
  int port;

  @Option(names = "--backend", paramLabel = "NAME=HOST:PORT", description = "A primary API server (repeatable)")
  List<String> primaries = new ArrayList<>();

  @Option(names = "--backup", paramLabel = "NAME=HOST:PORT", description = "A backup API server (repeatable)")
  List<String> backups = new ArrayList<>();

  @Override
  public Integer call() throws Exception {
    DataDir dir = new DataDir(dataDir);
    List<HaproxyConfig.Server> servers = new ArrayList<>();
    for (String s : primaries) servers.add(server(s, false));
    for (String s : backups) servers.add(server(s, true));
    if (servers.isEmpty()) {
      for (JsonNode c : RunningComponents.find(dir).map(r -> r.select("api")).orElse(List.of())) {
        String name = c.path("name").asText();
        servers.add(new HaproxyConfig.Server(name, "127.0.0.1", c.path("port").asInt(), !name.equals("api-main")));
      }
    }
    if (servers.isEmpty()) {
      throw new BulwarkException("no API servers: run it beside a running `bulwark up` (--data-dir), or pass"
          + " --backend api-main=127.0.0.1:8081 --backup api-backup=127.0.0.1:8082");
    }
    System.out.print(new HaproxyConfig("127.0.0.1", port, dir.run().resolve("haproxy.sock"), servers,
        HaproxyConfig.Timings.defaults()).render());
    return 0;
  }

  private static HaproxyConfig.Server server(String spec, boolean backup) {
    String[] nameAddr = spec.split("=", 2);
    String[] hostPort = nameAddr.length == 2 ? nameAddr[1].split(":", 2) : new String[0];
    if (hostPort.length != 2) throw new BulwarkException("server must be NAME=HOST:PORT, e.g. api-main=127.0.0.1:8081, got '" + spec + "'");
    try {
      return new HaproxyConfig.Server(nameAddr[0], hostPort[0], Integer.parseInt(hostPort[1]), backup);
    } catch (NumberFormatException e) {
      throw new BulwarkException("port of '" + spec + "' is not a number");
    }
  }
}
