package io.bulwark.cli;

import io.bulwark.node.DataDir;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "check", mixinStandardHelpOptions = true,
    description = {"Run one check, as a Nagios plugin: one status line with performance data, exit 0 OK, 1 WARNING, 2 CRITICAL,",
        "3 UNKNOWN. An existing Nagios, Icinga or Naemon can run Bulwark's checks (see `bulwark nagios-config`).",
        "",
        "Checks: component (--component NAME), database, failover, archive, backup-age, verification, restore-window,",
        "queue, backends, workers, crash-loop, disk, storage-lag. --warning and --critical override a check's thresholds (in its unit)."})
final class CheckCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "NAME", description = "The check")
  String name;

  @Option(names = "--component", paramLabel = "NAME", description = "For the component check: which one, e.g. api-main")
  String component;

  @Option(names = {"-w", "--warning"}, paramLabel = "W", description = "WARNING threshold")
  Double warning;

  @Option(names = {"-c", "--critical"}, paramLabel = "C", description = "CRITICAL threshold")
  Double critical;

  @Option(names = "--data-dir", defaultValue = DataDir.DEFAULT, paramLabel = "DIR", description = "Data directory (default: ./${DEFAULT-VALUE})")
  Path dataDir;

  @Override
  public Integer call() {
    io.bulwark.monitor.CheckResult r = Checks.run(name, new DataDir(dataDir), component, new Checks.Thresholds(warning, critical));
    System.out.println(r.line(name));
    return r.status().exitCode();
  }
}
