package io.bulwark.cli;

import io.bulwark.node.DataDir;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "down", mixinStandardHelpOptions = true,
    description = {"Stop a running `bulwark up` gracefully.", "", "Sends SIGTERM to its supervisor and waits until everything has stopped."})
final class DownCommand implements Callable<Integer> {
  @Option(names = "--data-dir", defaultValue = DataDir.DEFAULT, paramLabel = "DIR", description = "Data directory (default: ./${DEFAULT-VALUE})")
  Path dataDir;

  @Option(names = "--timeout", defaultValue = "90", description = "Seconds to wait before giving up (default: ${DEFAULT-VALUE})")
  int timeoutSeconds;

  @Override
  public Integer call() throws Exception {
    DataDir dir = new DataDir(dataDir);
    Optional<ProcessHandle> supervisor = Files.exists(dir.pidFile())
        ? ProcessHandle.of(Long.parseLong(Files.readString(dir.pidFile()).trim()))
        : Optional.empty();
    if (supervisor.isEmpty() || !supervisor.get().isAlive()) {
      System.out.println("bulwark: not running on " + dir.root());
      return 0;
    }
    ProcessHandle p = supervisor.get();
    System.out.println("bulwark: stopping pid " + p.pid() + "...");
    p.destroy();
    try {
      p.onExit().get(timeoutSeconds, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      System.err.println("bulwark: pid " + p.pid() + " still running after " + timeoutSeconds + " s; see " + dir.logs());
      return 1;
    }
    System.out.println("bulwark: stopped");
    return 0;
  }
}
