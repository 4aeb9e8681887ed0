package io.bulwark.cli;

import io.bulwark.cluster.spec.ClusterSpec;
import io.bulwark.node.DataDir;
import io.bulwark.node.NodeAgent;
import io.bulwark.node.Roles;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The agent of one host of a cluster. */
@Command(name = "agent", mixinStandardHelpOptions = true,
    description = {"Run one host (node) of a cluster: the components the cluster file gives it (postgres, api, gateway,",
        "workers), supervised and restarted like under `up`, registered with their health in etcd so that `bulwark status",
        "--cluster FILE` shows every node. A node whose agent stops disappears from etcd within 5 s.",
        "",
        "Database nodes elect their primary through a leader lease in etcd: the primary's agent renews it every second",
        "and kills its primary if it cannot for 3 s; when the lease expires (5 s), the synchronous standby takes over.",
        "",
        "Stopped (SIGTERM), the agent stops its other components but leaves PostgreSQL running for its restart: a",
        "standby for 30 s, a primary on a 30 s lease (Patroni's ttl) that its keeper outlives by no more than 28 s. Started again",
        "within that, the agent adopts the running server: no failover, no failed request. To stop a primary's host",
        "for longer, hand the primary over first: bulwark db failover --cluster FILE.",
        "",
        "Run one per host, e.g. as a systemd service: bulwark agent --print-systemd-unit --cluster FILE --node NAME."})
final class AgentCommand implements Callable<Integer> {
  @Option(names = "--cluster", required = true, paramLabel = "FILE", description = "The cluster file (bulwark cluster init)")
  Path clusterFile;

  @Option(names = "--node", required = true, paramLabel = "NAME", description = "This host's node name in the cluster file")
  String node;

  @Option(names = "--data-dir", defaultValue = "bulwark-agent", paramLabel = "DIR",
      description = "This host's data directory: logs, cluster id, component table (default: ./${DEFAULT-VALUE})")
  Path dataDir;

  @Option(names = "--component-heap", defaultValue = "256m", description = "-Xmx of each component (default: ${DEFAULT-VALUE})")
  String heap;

  @Option(names = "--etcd-endpoint", paramLabel = "URL",
      description = {"An etcd endpoint this host uses instead of the cluster file's [etcd] endpoints (repeatable),",
          "e.g. only the member on this host"})
  java.util.List<String> etcdEndpoints = new java.util.ArrayList<>();

  @Option(names = "--print-systemd-unit", description = "Print a systemd unit that runs this agent, and exit")
  boolean printUnit;

  @Override
  public Integer call() throws Exception {
    ClusterSpec spec = ClusterSpec.read(clusterFile);
    spec.node(node); // an unknown node is refused before anything else
    if (printUnit) {
      System.out.print(systemdUnit(spec));
      return 0;
    }
    DataDir dir = new DataDir(dataDir);
    NodeAgent agent = new NodeAgent(spec, clusterFile, node, dir, heap, etcdEndpoints);
    try {
      agent.start();
    } catch (RuntimeException e) {
      agent.close();
      throw e;
    }
    System.out.println("bulwark: agent of node " + node + " in cluster " + spec.name() + " is running "
        + agent.components().stream().map(c -> c.name).toList() + "; `bulwark status --cluster " + clusterFile + "` shows them");
    return Roles.runUntilSignalled("agent-" + node, agent::close);
  }

  String systemdUnit(ClusterSpec spec) {
    String launcher = System.getenv().getOrDefault("BULWARK_LAUNCHER", "/opt/bulwark/bulwark");
    return """
        # Bulwark agent of node %1$s in cluster %2$s. Install as /etc/systemd/system/bulwark-agent.service, then
        #   systemctl daemon-reload && systemctl enable --now bulwark-agent
        [Unit]
        Description=Bulwark agent (node %1$s, cluster %2$s)
        Wants=network-online.target
        After=network-online.target

        [Service]
        ExecStart=%3$s agent --cluster %4$s --node %1$s --data-dir %5$s
        # only the agent gets SIGTERM: it stops its components itself (running tasks are handed back), and
        # leaves PostgreSQL running under its keeper for a restart, which adopts it (no failover); a keeper
        # that is not picked up within 30 s stops PostgreSQL itself
        KillMode=process
        TimeoutStopSec=60
        Restart=always
        RestartSec=1
        LimitNOFILE=65536
        # a dedicated, unprivileged user that owns the data directory
        User=bulwark
        Group=bulwark
        UMask=0077

        [Install]
        WantedBy=multi-user.target
        """.formatted(node, spec.name(), launcher, clusterFile.toAbsolutePath(), dataDir.toAbsolutePath());
  }
}
