package io.bulwark.cli;

import io.bulwark.cluster.spec.ClusterSpec;
import io.bulwark.cluster.spec.Role;
import io.bulwark.node.NodeAgent;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** The cluster file: print a commented example, check one. */
@Command(name = "cluster", mixinStandardHelpOptions = true,
    description = {"The cluster file (TOML) that describes the hosts of a multi-host Bulwark: which nodes there are, what",
        "each runs, the etcd endpoints, the shared archive. One file, the same on every host."},
    subcommands = {ClusterCommand.Init.class, ClusterCommand.Check.class})
final class ClusterCommand {
  /**
   * How long a command waits for each answer of a cluster's etcd: a command's client is fresh, and
   * its first call also sets up the connection, which takes seconds on a busy host (the agents, which
   * keep their client, use {@code NodeAgent.ETCD_TIMEOUT}).
   */
  static final java.time.Duration ETCD_TIMEOUT = java.time.Duration.ofSeconds(10);


  @Command(name = "init", mixinStandardHelpOptions = true,
      description = {"Print a commented example cluster file of three hosts: bulwark cluster init > cluster.toml"})
  static final class Init implements Callable<Integer> {
    @Override
    public Integer call() {
      System.out.print(ClusterSpec.example());
      return 0;
    }
  }

  @Command(name = "check", mixinStandardHelpOptions = true,
      description = {"Validate a cluster file and print what each node runs, on which ports. Exit 1, with one line",
          "naming the problem, when it cannot be used."})
  static final class Check implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "FILE", description = "The cluster file")
    Path file;

    @Override
    public Integer call() {
      ClusterSpec spec = ClusterSpec.read(file);
      System.out.printf("cluster %s: %d node(s), etcd %s, archive %s%n", spec.name(), spec.nodes().size(),
          spec.etcd().endpoints().isEmpty() ? "(none: one node)" : String.join(",", spec.etcd().endpoints()),
          spec.archive() == null ? "(none)" : spec.archive().uri());
      for (ClusterSpec.Node n : spec.nodes()) {
        String runs = n.runs().stream().map(Role::label).collect(Collectors.joining(", "))
            + (n.runs(Role.WORKER) ? " (" + n.workers() + " workers)" : "");
        System.out.printf("  %-12s %-16s %s%n", n.name(), n.address(), runs);
        String ports = ClusterSpec.portsInUse(n).entrySet().stream().map(e -> e.getKey() + " " + e.getValue())
            .collect(Collectors.joining(", "));
        System.out.printf("  %-12s %-16s ports: %s%n", "", "", ports);
      }
      return 0;
    }
  }
}
