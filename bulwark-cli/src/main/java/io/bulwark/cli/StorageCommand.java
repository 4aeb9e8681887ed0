package io.bulwark.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.bulwark.cluster.events.EventRecorder;
import io.bulwark.cluster.events.FileEventJournal;
import io.bulwark.core.BulwarkException;
import io.bulwark.node.DataDir;
import io.bulwark.node.NodeAgent;
import io.bulwark.node.StorageLayout;
import io.bulwark.storage.RegionChoice;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "storage", mixinStandardHelpOptions = true, subcommands = {StorageCommand.Status.class, StorageCommand.Switch.class},
    description = {"The blob storage regions of `bulwark up --storage azurite` (or two --blobs regions): which one takes writes,",
        "each one's probes, and the copies one still owes the other (the replication lag)."})
final class StorageCommand implements Runnable {

  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }

  static JsonNode readStatus(DataDir dir) throws Exception {
    Path f = dir.run().resolve(StorageLayout.STATUS_FILE);
    if (!Files.exists(f)) {
      throw new BulwarkException("no storage regions on " + dir.root() + ": start them with `bulwark up --storage azurite --data-dir "
          + dir.root() + "` (one region has nothing to switch)");
    }
    return new ObjectMapper().readTree(f.toFile());
  }

  @Command(name = "status", mixinStandardHelpOptions = true, description = "The regions, the active one and why, probes, replication lag.")
  static final class Status implements Callable<Integer> {
    @Option(names = "--data-dir", defaultValue = DataDir.DEFAULT, paramLabel = "DIR", description = "Data directory (default: ./${DEFAULT-VALUE})")
    Path dataDir;

    @Option(names = "--json", description = "Print the JSON the supervisor publishes")
    boolean json;

    @Override
    public Integer call() throws Exception {
      JsonNode s = readStatus(new DataDir(dataDir));
      if (json) {
        System.out.println(s.toPrettyString());
        return 0;
      }
      System.out.printf("active     %s since %s: %s%n", s.path("active").asText(), s.path("since").asText(), s.path("why").asText());
      System.out.printf("%n%-8s %-32s %-7s %-10s %s%n", "REGION", "STORE", "PROBES", "IN A ROW", "LAST PROBLEM");
      boolean ok = true;
      for (JsonNode r : s.path("regions")) {
        boolean passed = r.path("lastPassed").asBoolean();
        ok &= passed;
        System.out.printf("%-8s %-32s %-7s %-10s %s%n", r.path("name").asText() + (r.path("active").asBoolean() ? " *" : ""),
            r.path("store").asText(), passed ? "ok" : "FAILING", passed ? r.path("passedInARow").asInt() + " ok"
                : r.path("failedInARow").asInt() + " failed", r.path("lastProblem").asText("-"));
      }
      System.out.printf("%nreplication  %d copies owed, lag %.1f s (the oldest copy owed)%s%n", s.path("pending").asInt(),
          s.path("lagSeconds").asDouble(), ok ? "" : "; DEGRADED: writes go to one region, copies are made when the other returns");
      return ok ? 0 : 1;
    }
  }

  @Command(name = "switch", mixinStandardHelpOptions = true,
      description = {"Send writes to REGION first, in every process (a planned switch, or the failback after an outage).",
          "Reads still fall back to the other region; copies owed are made in both directions."})
  static final class Switch implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "REGION", description = "The region's name, as `bulwark storage status` lists it")
    String region;

    @Option(names = "--data-dir", defaultValue = DataDir.DEFAULT, paramLabel = "DIR", description = "Data directory (default: ./${DEFAULT-VALUE})")
    Path dataDir;

    @Option(names = "--cluster", paramLabel = "FILE", description = "Switch a cluster's regions (the choice in etcd every agent follows)")
    Path clusterFile;

    @Override
    public Integer call() throws Exception {
      if (clusterFile != null) return switchCluster();
      DataDir dir = new DataDir(dataDir);
      JsonNode s = readStatus(dir);
      List<String> names = new ArrayList<>();
      for (JsonNode r : s.path("regions")) names.add(r.path("name").asText());
      if (!names.contains(region)) throw new BulwarkException("no region '" + region + "'; the regions are " + names);
      RegionChoice choice = new RegionChoice(dir.storageState().resolve("storage-region"), names.get(0));
      if (choice.active().equals(region)) {
        System.out.println("bulwark: writes already go to region " + region);
        return 0;
      }
      choice.switchTo(region, "planned: bulwark storage switch " + region);
      try (FileEventJournal journal = new FileEventJournal(dir.events())) {
        new EventRecorder(journal, EventRecorder.LOCAL_NODE, "storage").record(io.bulwark.cluster.events.Event.Kinds.STORAGE_SWITCH,
            "writes now go to region " + region + ": planned (bulwark storage switch)");
      }
      System.out.println("bulwark: writes now go to region " + region + " (every process reads the choice within 250 ms)");
      return 0;
    }

    private int switchCluster() {
      io.bulwark.cluster.spec.ClusterSpec spec = io.bulwark.cluster.spec.ClusterSpec.read(clusterFile);
      if (spec.storage() == null || !spec.storage().replicated()) {
        throw new BulwarkException("cluster '" + spec.name() + "' has one storage region; [storage] regions names two to switch between");
      }
      List<String> names = spec.storage().regions().stream().map(r -> r.substring(0, r.indexOf('='))).toList();
      if (!names.contains(region)) throw new BulwarkException("no region '" + region + "'; the regions are " + names);
      try (io.bulwark.etcd.EtcdClusterState state = io.bulwark.etcd.EtcdClusterState.of(spec, ClusterCommand.ETCD_TIMEOUT)) {
        state.keys().put(NodeAgent.STORAGE_REGION_KEY, region + "\n" + java.time.Instant.now() + "\nplanned: bulwark storage switch " + region);
        new EventRecorder(state.journal(), "cli", "storage").record(io.bulwark.cluster.events.Event.Kinds.STORAGE_SWITCH,
            "writes now go to region " + region + ": planned (bulwark storage switch)");
        state.journal().close();
      }
      System.out.println("bulwark: writes now go to region " + region + " on every host (each agent applies it within a second)");
      return 0;
    }
  }
}
