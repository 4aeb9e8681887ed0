package io.bulwark.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.bulwark.core.BulwarkException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "failover", mixinStandardHelpOptions = true,
    description = {"Planned switchover: make the standby the primary now.",
        "",
        "The primary is stopped cleanly (it sends the standby all its WAL first), fenced, the standby is",
        "promoted, and the old primary is rebuilt as the new standby. Clients reconnect to the new primary",
        "by themselves. Refused, with the reason, when there is no healthy synchronous standby."})
final class DbFailoverCommand implements Callable<Integer> {
  @Option(names = "--data-dir", defaultValue = DataDir.DEFAULT, paramLabel = "DIR", description = "Data directory (default: ./${DEFAULT-VALUE})")
  Path dataDir;

  @Option(names = "--timeout", defaultValue = "90", paramLabel = "SECONDS", description = "How long to wait for the result (default: ${DEFAULT-VALUE})")
  int timeoutSeconds;

  @Override
  public Integer call() throws Exception {
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
}
