package io.bulwark.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.bulwark.cluster.lease.LeaseStore;
import io.bulwark.cluster.spec.ClusterSpec;
import io.bulwark.cluster.state.ClusterKeys;
import io.bulwark.core.BulwarkException;
import io.bulwark.dr.DatabaseMember;
import io.bulwark.etcd.EtcdClusterState;
import io.bulwark.node.DataDir;
import io.bulwark.node.DbStatus;
import io.bulwark.node.LocalDeployment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "failover", mixinStandardHelpOptions = true,
    description = {"Planned switchover: make the standby the primary now.",
        "",
        "The primary is stopped cleanly (it sends the standby all its WAL first), fenced, the standby is",
        "promoted, and the old primary is rebuilt as the new standby. Clients reconnect to the new primary",
        "by themselves. Refused, with the reason, when there is no healthy synchronous standby.",
        "",
        "With --cluster FILE, the same for a cluster's database (run by `bulwark agent`): the primary's agent stops it",
        "cleanly and releases the leader lease, the synchronous standby takes over at once, and the old primary",
        "rejoins as its standby without a rebuild. Do this before stopping the primary's host for maintenance:",
        "restarting an agent keeps its database running instead (no failover)."})
final class DbFailoverCommand implements Callable<Integer> {
  @Option(names = "--data-dir", defaultValue = DataDir.DEFAULT, paramLabel = "DIR", description = "Data directory (default: ./${DEFAULT-VALUE})")
  Path dataDir;

  @Option(names = "--timeout", defaultValue = "90", paramLabel = "SECONDS", description = "How long to wait for the result (default: ${DEFAULT-VALUE})")
  int timeoutSeconds;

  @Option(names = "--cluster", paramLabel = "FILE", description = "Switch over a cluster's database (the cluster file) instead of `up`'s")
  Path clusterFile;

  @Override
  public Integer call() throws Exception {
    if (clusterFile != null) return clusterSwitchover();
    DataDir dir = new DataDir(dataDir);
    if (!Files.exists(dir.run().resolve(DbStatus.FILE))) {
      throw new BulwarkException("nothing is running on " + dir.root() + "; a switchover needs `bulwark up --data-dir "
          + dir.root() + "` running");
    }
    String id = UUID.randomUUID().toString();
    Path result = dir.run().resolve(DbStatus.SWITCHOVER_RESULT);
    Files.deleteIfExists(result);
    Path request = dir.run().resolve(DbStatus.SWITCHOVER_REQUEST);
    Path tmp = dir.run().resolve(DbStatus.SWITCHOVER_REQUEST + ".tmp");
    Files.writeString(tmp, id);
    Files.move(tmp, request, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    long deadline = System.nanoTime() + Duration.ofSeconds(timeoutSeconds).toNanos();
    while (System.nanoTime() < deadline) {
      if (Files.exists(result)) {
        JsonNode r = DbStatus.JSON.readTree(result.toFile());
        if (id.equals(r.path("id").asText())) {
          if (!r.path("ok").asBoolean()) {
            throw new BulwarkException("switchover refused: " + r.path("error").asText());
          }
          JsonNode s = r.path("switchover");
          System.out.println("switchover done: " + s.path("to").asText() + " is the primary (was " + s.path("from").asText()
              + "); took " + s.path("detectedToPromotedMillis").asText() + " ms; " + s.path("from").asText()
              + " is being rebuilt as the standby (see `bulwark db status`)");
          return 0;
        }
      }
      LocalDeployment.pause(100);
    }
    Files.deleteIfExists(request);
    throw new BulwarkException("no answer from the supervisor within " + timeoutSeconds + " s; is `bulwark up` running on "
        + dir.root() + "? See its log and `bulwark db status`");
  }

  /**
   * Asks the cluster's leader to hand over ({@value DatabaseMember#SWITCHOVER_KEY} in etcd naming it)
   * and waits until another node holds the leader lease.
   */
  private int clusterSwitchover() {
    ClusterSpec spec = ClusterSpec.read(clusterFile);
    String status = "`bulwark status --cluster " + clusterFile + "`";
    try (EtcdClusterState state = EtcdClusterState.of(spec, ClusterCommand.ETCD_TIMEOUT)) {
      ClusterKeys keys = state.keys();
      LeaseStore leases = state.leases(ClusterCommand.ETCD_TIMEOUT);
      String from = leases.holder(DatabaseMember.LEADER_KEY).orElseThrow(() -> new BulwarkException(
          "switchover refused: no database node leads cluster " + spec.name() + " now; see " + status));
      String to = keys.get(DatabaseMember.SYNC_KEY).orElseThrow(() -> new BulwarkException("switchover refused: " + from
          + " has no synchronous standby that holds every acknowledged commit; wait until " + status + " shows one"));
      long began = System.nanoTime();
      keys.put(DatabaseMember.SWITCHOVER_KEY, from);
      long deadline = began + Duration.ofSeconds(timeoutSeconds).toNanos();
      while (System.nanoTime() - deadline < 0) {
        Optional<String> leader = leases.holder(DatabaseMember.LEADER_KEY);
        if (leader.isPresent() && !leader.get().equals(from)) {
          System.out.println("switchover done: " + leader.get() + " is the primary (was " + from + "); took "
              + (System.nanoTime() - began) / 1_000_000 + " ms; " + from + " rejoins as its standby (see " + status + ")");
          return 0;
        }
        if (leader.isPresent() && keys.get(DatabaseMember.SWITCHOVER_KEY).isEmpty()) {
          throw new BulwarkException("switchover refused by " + from + "; `bulwark events --cluster " + clusterFile + "` says why");
        }
        LocalDeployment.pause(100);
      }
      keys.delete(DatabaseMember.SWITCHOVER_KEY);
      throw new BulwarkException("the switchover from " + from + " to " + to + " did not finish within " + timeoutSeconds
          + " s; see " + status + " and `bulwark events --cluster " + clusterFile + "`");
    }
  }
}
