package io.bulwark.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.bulwark.cluster.spec.ClusterSpec;
import io.bulwark.etcd.EtcdClusterState;
import io.bulwark.node.DataDir;
import io.bulwark.node.Health;
import io.bulwark.node.Ports;
import io.bulwark.node.StorageLayout;
import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "status", mixinStandardHelpOptions = true,
    description = {"Show every component of a running `bulwark up`, or with --cluster of every node of a cluster.",
        "",
        "Name, role, pid, port, health and restarts of each.",
        "Exit code 0 when all are healthy, 1 when something is down, 2 when nothing runs."})
final class StatusCommand implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Option(names = "--data-dir", defaultValue = DataDir.DEFAULT, paramLabel = "DIR", description = "Data directory (default: ./${DEFAULT-VALUE})")
  Path dataDir;

  @Option(names = "--json", description = "Print a JSON array of {name, role, pid, port, healthy, restarts, ...}")
  boolean json;

  @Option(names = "--cluster", paramLabel = "FILE",
      description = "Show every node of a cluster, as their agents registered them in etcd, instead of this data directory")
  Path clusterFile;

  @Override
  public Integer call() throws IOException {
    if (clusterFile != null) return clusterStatus();
    DataDir dir = new DataDir(dataDir);
    if (!Files.exists(dir.componentsFile())) {
      if (json) System.out.println("[]");
      else System.err.println("bulwark: nothing is running on " + dir.root() + "; start it with `bulwark up --data-dir " + dir.root() + "`");
      return 2;
    }
    ArrayNode rows = (ArrayNode) JSON.readTree(dir.componentsFile().toFile());
    boolean allHealthy = true;
    for (JsonNode n : rows) {
      ObjectNode row = (ObjectNode) n;
      long pid = row.path("pid").asLong(-1);
      boolean alive = pid > 0 && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
      int port = row.path("port").asInt();
      boolean healthy = alive && healthy(row);
      row.put("alive", alive);
      row.put("healthy", healthy);
      allHealthy &= healthy;
    }
    if (json) {
      System.out.println(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(rows));
    } else {
      System.out.printf("%-12s %-15s %-8s %-6s %-8s %s%n", "NAME", "ROLE", "PID", "PORT", "HEALTHY", "RESTARTS");
      for (JsonNode r : rows) {
        System.out.printf("%-12s %-15s %-8s %-6s %-8s %s%n", r.path("name").asText(), r.path("role").asText(),
            r.path("pid").asLong() > 0 ? r.path("pid").asText() : "-", r.path("port").asText(),
            r.path("healthy").asBoolean() ? "yes" : "NO", r.path("restarts").asText());
      }
    }
    java.nio.file.Path storage = dir.run().resolve(StorageLayout.STATUS_FILE);
    if (!json && Files.exists(storage)) {
      JsonNode st = JSON.readTree(storage.toFile());
      boolean degraded = false;
      for (JsonNode r : st.path("regions")) degraded |= !r.path("lastPassed").asBoolean();
      System.out.printf("%nstorage: writes go to region %s; %d copies owed to the other region, lag %.1f s%s (bulwark storage status)%n",
          st.path("active").asText(), st.path("pending").asInt(), st.path("lagSeconds").asDouble(),
          degraded ? "; DEGRADED: a region fails its probes" : "");
      allHealthy &= !degraded;
    }
    return allHealthy ? 0 : 1;
  }

  /** Every node of the cluster file, from the registrations in etcd; a node with none is down or cut off. */
  private int clusterStatus() throws IOException {
    ClusterSpec spec = ClusterSpec.read(clusterFile);
    java.util.Map<String, byte[]> members;
    try (EtcdClusterState state = EtcdClusterState.of(spec, ClusterCommand.ETCD_TIMEOUT)) {
      members = state.members();
    }
    ArrayNode out = JSON.createArrayNode();
    boolean allHealthy = true;
    for (ClusterSpec.Node n : spec.nodes()) {
      byte[] registered = members.get(n.name());
      ObjectNode row = registered == null ? JSON.createObjectNode().put("node", n.name()).put("address", n.address())
          : (ObjectNode) JSON.readTree(registered);
      row.put("registered", registered != null);
      out.add(row);
      allHealthy &= registered != null;
      for (JsonNode c : row.path("components")) allHealthy &= c.path("healthy").asBoolean();
    }
    if (json) {
      System.out.println(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(out));
      return allHealthy ? 0 : 1;
    }
    System.out.printf("%-10s %-16s %-20s %-11s %-8s %-6s %-8s %s%n", "NODE", "ADDRESS", "COMPONENT", "ROLE", "PID", "PORT", "HEALTHY", "RESTARTS");
    for (JsonNode row : out) {
      if (!row.path("registered").asBoolean()) {
        System.out.printf("%-10s %-16s %s%n", row.path("node").asText(), row.path("address").asText(),
            "NO AGENT REGISTERED (host down, agent stopped, or cut off from etcd for 5 s)");
        continue;
      }
      for (JsonNode c : row.path("components")) {
        System.out.printf("%-10s %-16s %-20s %-11s %-8s %-6s %-8s %s%n", row.path("node").asText(), row.path("address").asText(),
            c.path("name").asText(), c.path("role").asText(), c.path("pid").asLong() > 0 ? c.path("pid").asText() : "-",
            c.path("port").asText(), c.path("healthy").asBoolean() ? "yes" : "NO", c.path("restarts").asText());
      }
    }
    return allHealthy ? 0 : 1;
  }

  /** Whether a component-table row's health endpoint answers (HTTPS when the row names its certificate), or its port accepts. */
  static boolean healthy(JsonNode row) {
    int port = row.path("port").asInt();
    if (!row.path("healthPath").isTextual()) return Ports.accepts(port, 1000);
    java.nio.file.Path cert = row.path("tlsCertificate").isTextual() ? java.nio.file.Path.of(row.path("tlsCertificate").asText()) : null;
    return Health.httpHealthy(row.path("healthHost").asText("127.0.0.1"), port, row.path("healthPath").asText(), cert);
  }
}
