package io.bulwark.cli;

import io.bulwark.core.BulwarkException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

@Command(name = "bulwark", mixinStandardHelpOptions = true, version = "bulwark 0.1.0",
    description = {"Bulwark: a self-hosted, disaster-resilient task-processing platform.", ""},
    subcommands = {UpCommand.class, StatusCommand.class, DownCommand.class, KillCommand.class, EventsCommand.class, ClusterCommand.class, AgentCommand.class, RestartCommand.class, SubmitCommand.class,
        ApiCommand.class, WorkerCommand.class, GatewayCommand.class, HaproxyConfigCommand.class, BenchCommand.class, DbCommand.class, DnsCommand.class, StorageCommand.class, CheckCommand.class, NagiosConfigCommand.class, MonitorCommand.class, IncidentsCommand.class,
        CommandLine.HelpCommand.class},
    footer = {"", "Start with `bulwark up`; see `bulwark help <command>` for each command."})
public final class Main implements Runnable {
  public static void main(String[] args) {
    try {
      io.bulwark.core.ProcessSecrets.readFromParentIfSent(); // a supervised role's secrets, before anything else runs
    } catch (BulwarkException e) {
      System.err.println("bulwark: " + e.getMessage());
      System.exit(1);
    }
    System.exit(run(args));
  }

  static int run(String... args) {
    CommandLine cli = new CommandLine(new Main())
        .setDefaultValueProvider(new EnvDefaults())
        .setUsageHelpWidth(120) // descriptions are written as lines of up to ~110 characters
        .setParameterExceptionHandler((e, args2) -> {
          CommandLine cmd = e.getCommandLine();
          cmd.getErr().println("bulwark: " + e.getMessage());
          cmd.usage(cmd.getErr());
          // a Nagios plugin's usage error is UNKNOWN (3), never CRITICAL (picocli's 2)
          return cmd.getCommand() instanceof CheckCommand ? io.bulwark.monitor.Status.UNKNOWN.exitCode() : cmd.getCommandSpec().exitCodeOnInvalidInput();
        })
        .setExecutionExceptionHandler((e, cmd, parsed) -> {
          if (e instanceof BulwarkException || e instanceof IllegalArgumentException) {
            cmd.getErr().println("bulwark: " + e.getMessage());
            return 1;
          }
          throw e;
        });
    return cli.execute(args);
  }

  @Override
  public void run() {
    new CommandLine(this).usage(System.out);
  }
}
