package io.bulwark.cli;

import io.bulwark.cluster.events.EventRecorder;
import io.bulwark.cluster.events.FileEventJournal;
import io.bulwark.core.metrics.Metrics;
import io.bulwark.monitor.IncidentStore;
import io.bulwark.monitor.Monitor;
import io.bulwark.monitor.MonitorAdmin;
import io.bulwark.monitor.MonitorPolicy;
import io.bulwark.monitor.SmtpNotifier;
import io.bulwark.monitor.WebhookNotifier;
import io.bulwark.node.Component;
import io.bulwark.node.DataDir;
import io.bulwark.node.NodeAgent;
import io.bulwark.node.Roles;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "monitor", mixinStandardHelpOptions = true,
    subcommands = {MonitorCommand.Run.class, MonitorCommand.PolicyExample.class},
    description = {"The built-in monitor: every check each second (SOFT/HARD, flap detection), one incident per root cause with",
        "its diagnosis from the event journal, escalation by email and webhooks (manager first, then the developers).",
        "",
        "`bulwark up` runs it (`--monitor-policy FILE` for whom to tell); `bulwark incidents` shows and acknowledges incidents."})
final class MonitorCommand implements Runnable {
  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }

  /** Loads and checks a policy file (and that its SMTP server answers): one line on error. */
  static MonitorPolicy loadPolicy(Path file, boolean verifySmtp) {
    MonitorPolicy policy = file == null ? MonitorPolicy.DEFAULT : MonitorPolicy.read(file);
    if (verifySmtp && emails(policy)) new SmtpNotifier(policy.smtp()).verify();
    return policy;
  }

  private static boolean emails(MonitorPolicy policy) {
    return policy.recipients().values().stream().anyMatch(r -> r.email() != null);
  }

  @Command(name = "run", mixinStandardHelpOptions = true,
      description = {"Run the monitor (the `monitor` role) on a data directory's deployment: what `bulwark up` starts. Its",
          "incidents are kept in DIR/monitor/incidents.json (not in the database it watches); its admin API on",
          "127.0.0.1:--admin-port serves `bulwark incidents`. Refuses to start when the policy is invalid or its SMTP",
          "server does not answer."})
  static final class Run implements Callable<Integer> {
    @Option(names = "--name", defaultValue = "monitor", description = "Component name (default: ${DEFAULT-VALUE})")
    String name;

    @Option(names = "--data-dir", defaultValue = DataDir.DEFAULT, paramLabel = "DIR", description = "Data directory (default: ./${DEFAULT-VALUE})")
    Path dataDir;

    @Option(names = "--admin-port", defaultValue = "8068", description = "Loopback port of the admin API (default: ${DEFAULT-VALUE})")
    int adminPort;

    @Option(names = "--policy", paramLabel = "FILE",
        description = "Thresholds and escalation (TOML; `bulwark monitor policy-example` prints one). Without: incidents are kept and shown, nobody is told")
    Path policyFile;

    @Option(names = "--deployment", paramLabel = "NAME", description = "How notifications name this deployment (default: the host name)")
    String deployment;

    @Option(names = "--cluster", paramLabel = "FILE",
        description = "Watch a whole cluster through etcd (what the agent of a node that runs `monitor` starts) instead of --data-dir's deployment")
    Path clusterFile;

    @Option(names = "--node", paramLabel = "NAME", description = "With --cluster: the node this monitor runs on (its events carry it)")
    String node;

    @Option(names = "--etcd-endpoint", paramLabel = "URL", description = "With --cluster: the etcd endpoints to use, if not the file's (repeat)")
    java.util.List<String> etcdEndpoints = new java.util.ArrayList<>();

    @Override
    public Integer call() throws Exception {
      DataDir dir = new DataDir(dataDir);
      MonitorPolicy policy = loadPolicy(policyFile, true);
      Metrics metrics = new Metrics().withJvmGauges();
      WebhookNotifier webhooks = new WebhookNotifier();
      io.bulwark.cluster.events.EventJournal journal;
      io.bulwark.monitor.CheckSource source;
      String where;
      AutoCloseable etcd = null;
      if (clusterFile != null) {
        io.bulwark.cluster.spec.ClusterSpec spec = io.bulwark.cluster.spec.ClusterSpec.read(clusterFile);
        if (node != null) spec.node(node);
        io.bulwark.etcd.EtcdClusterState state = new io.bulwark.etcd.EtcdClusterState(
            etcdEndpoints.isEmpty() ? spec.etcd().endpoints() : etcdEndpoints, spec.etcdPrefix(), NodeAgent.ETCD_TIMEOUT);
        etcd = state;
        journal = state.journal();
        source = ClusterChecks.source(spec, state::members, state.leases(NodeAgent.ETCD_TIMEOUT), state.keys());
        where = "cluster " + spec.name();
      } else {
        journal = new FileEventJournal(dir.events());
        source = Checks.source(dir, policy);
        where = dir.root().toString();
      }
      String label = deployment != null ? deployment : clusterFile != null ? where : hostName();
      io.bulwark.cluster.events.EventJournal events = journal;
      Monitor monitor = new Monitor(policy, source, journal, new EventRecorder(journal, node != null ? node : EventRecorder.LOCAL_NODE, name),
          new IncidentStore(dir.incidents()), new Monitor.Notifiers(emails(policy) ? new SmtpNotifier(policy.smtp()) : null, webhooks),
          Clock.systemUTC(), metrics, label);
      MonitorAdmin admin = new MonitorAdmin(monitor, metrics, adminPort);
      monitor.start();
      admin.start();
      AutoCloseable store = etcd;
      System.out.println("bulwark: monitor checking " + where + " every " + policy.monitor().checkInterval().toMillis() + " ms; "
          + policy.steps().size() + " escalation step(s); admin API on 127.0.0.1:" + admin.port());
      return Roles.runUntilSignalled(name, () -> {
        admin.close();
        monitor.close();
        webhooks.close();
        events.close();
        if (store != null) store.close();
      });
    }

    private static String hostName() {
      try {
        return java.net.InetAddress.getLocalHost().getHostName();
      } catch (java.io.IOException e) {
        return "bulwark";
      }
    }
  }

  @Command(name = "policy-example", mixinStandardHelpOptions = true,
      description = "Print a commented monitor policy (thresholds, escalation steps, recipients, SMTP) to start from")
  static final class PolicyExample implements Runnable {
    @Override
    public void run() {
      System.out.print(MonitorPolicy.EXAMPLE);
    }
  }
}
