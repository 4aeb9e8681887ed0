package io.bulwark.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.bulwark.core.BulwarkException;
import io.bulwark.node.Component;
import io.bulwark.node.DataDir;
import io.bulwark.node.RunningComponents;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Kills a component of a running `bulwark up`, as a failure would: the way to try the recoveries. */
@Command(name = "kill", mixinStandardHelpOptions = true,
    description = {"Kill a component of a running `bulwark up` (SIGKILL by default) to watch Bulwark recover.",
        "",
        "TARGET is a component name (api-main, worker-1, pg-a, ...) or a role (worker, api, gateway,",
        "pg-primary, pg-standby): a role kills its first component, or all of them with --all.",
        "The supervisor restarts a killed role; a killed pg-primary is failed over to the standby.",
        "`bulwark status` lists the names and roles."})
final class KillCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "TARGET", description = "Component name or role")
  String target;

  @Option(names = "--all", description = "Kill every component with the role TARGET, not just the first")
  boolean all;

  @Option(names = "--signal", defaultValue = "KILL", paramLabel = "KILL|TERM",
      description = "KILL (a crash, the default) or TERM (a graceful stop)")
  Signal signal;

  @Option(names = "--data-dir", defaultValue = DataDir.DEFAULT, paramLabel = "DIR", description = "Data directory (default: ./${DEFAULT-VALUE})")
  Path dataDir;

  enum Signal { KILL, TERM }

  @Override
  public Integer call() {
    RunningComponents running = RunningComponents.read(new DataDir(dataDir));
    List<JsonNode> chosen = running.select(target);
    if (chosen.isEmpty()) {
      throw new BulwarkException("no component or role '" + target + "' is running; names: "
          + String.join(", ", running.names()) + "; roles: " + String.join(", ", running.roles()));
    }
    for (JsonNode c : all ? chosen : chosen.subList(0, 1)) kill(c);
    return 0;
  }

  private void kill(JsonNode c) {
    String name = c.path("name").asText();
    long pid = c.path("pid").asLong(-1);
    Optional<ProcessHandle> process = pid > 0 ? ProcessHandle.of(pid) : Optional.empty();
    if (process.isEmpty() || !process.get().isAlive()) {
      throw new BulwarkException(name + " is not running right now (being restarted?); see `bulwark status`");
    }
    boolean sent = signal == Signal.KILL ? process.get().destroyForcibly() : process.get().destroy();
    if (!sent) throw new BulwarkException("could not signal " + name + " (pid " + pid + "): not our process?");
    System.out.println("bulwark: killed " + name + " (" + c.path("role").asText() + ", pid " + pid + ") with SIG" + signal);
  }
}
