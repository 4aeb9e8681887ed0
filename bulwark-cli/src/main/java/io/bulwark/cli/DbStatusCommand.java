package io.bulwark.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.bulwark.node.DataDir;
import io.bulwark.node.DbStatus;
import io.bulwark.node.StorageLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "status", mixinStandardHelpOptions = true,
    description = {"Show the database nodes of a running `bulwark up`.",
        "",
        "Each node's name, pid, port and role (primary, standby, rebuilding, down), the primary's timeline,",
        "the replication mode (synchronous while the standby streams, asynchronous otherwise), the standby's",
        "lag in bytes and seconds, whether it may be promoted without losing commits, the last failover,",
        "and the archive and backups.",
        "Exit code 0 when the primary is up and the standby is eligible for failover, 1 otherwise,",
        "2 when nothing runs."})
final class DbStatusCommand implements Callable<Integer> {
  @Option(names = "--data-dir", defaultValue = DataDir.DEFAULT, paramLabel = "DIR", description = "Data directory (default: ./${DEFAULT-VALUE})")
  Path dataDir;

  @Option(names = "--json", description = "Print the status as JSON")
  boolean json;

  @Override
  public Integer call() throws Exception {
    DataDir dir = new DataDir(dataDir);
    Path file = dir.run().resolve(DbStatus.FILE);
    if (!Files.exists(file)) {
      if (json) System.out.println("{}");
      else System.err.println("bulwark: nothing is running on " + dir.root() + "; start it with `bulwark up --data-dir " + dir.root() + "`");
      return 2;
    }
    JsonNode status = DbStatus.JSON.readTree(file.toFile());
    JsonNode cluster = status.path("cluster");
    boolean healthy = cluster.path("standbyEligible").asBoolean(false);
    for (JsonNode n : cluster.path("nodes")) {
      if (n.path("role").asText().equalsIgnoreCase("primary") && !n.path("alive").asBoolean(true)) healthy = false;
    }
    if (json) {
      System.out.println(DbStatus.JSON.writeValueAsString(status));
      return healthy ? 0 : 1;
    }
    System.out.printf("%-6s %-11s %-8s %-6s %s%n", "NODE", "ROLE", "PID", "PORT", "TIMELINE");
    for (JsonNode n : cluster.path("nodes")) {
      System.out.printf("%-6s %-11s %-8s %-6s %s%n", n.path("name").asText(), n.path("role").asText().toLowerCase(),
          n.path("pid").asLong(-1) > 0 ? n.path("pid").asText() : "-", n.path("port").asText(),
          n.path("timeline").isNumber() ? n.path("timeline").asText() : "-");
    }
    System.out.println();
    System.out.println("replication:  " + cluster.path("replicationMode").asText()
        + (cluster.has("standbyState") ? " (standby " + cluster.path("standby").asText() + ": " + cluster.path("standbyState").asText()
        + ", lag " + text(cluster.path("lagBytes"), " bytes") + " / " + text(cluster.path("lagSeconds"), " s") + ")" : ""));
    System.out.println("failover:     " + (cluster.path("standbyEligible").asBoolean() ? "ready (standby is synchronous and caught up)"
        : "NOT ready (no synchronous standby)"));
    JsonNode last = cluster.path("lastFailover");
    if (last.isObject()) {
      System.out.println("last failover: " + last.path("at").asText() + " " + last.path("from").asText() + " -> "
          + last.path("to").asText() + " (" + last.path("reason").asText() + "; promoted "
          + last.path("detectedToPromotedMillis").asText() + " ms after detection)");
    }
    JsonNode backups = status.path("backups");
    if (backups.isObject()) {
      JsonNode a = backups.path("archiving");
      System.out.println("archive:      last WAL " + (a.path("lastArchived").isTextual()
          ? a.path("lastArchived").asText() + " (" + ago(a.path("lastArchivedAt")) + ")" : "none yet")
          + ", " + a.path("pending").asInt() + " waiting in the spool"
          + (a.path("lastError").isTextual() ? "; last error: " + a.path("lastError").asText() : "")
          + (a.path("conflicts").size() > 0 ? "; CONFLICTS (see docs/operations.md): " + a.path("conflicts") : ""));
      System.out.println("base backups: " + backups.path("backups").asInt() + (backups.path("newestBackup").isTextual()
          ? ", newest " + backups.path("newestBackup").asText() + " (" + ago(backups.path("newestBackupAt")) + ")" : "")
          + (backups.path("backupRunning").asBoolean() ? "; one is being taken" : "")
          + (backups.path("lastBackupError").isTextual() ? "; last error: " + backups.path("lastBackupError").asText() : ""));
      Path regions = dir.run().resolve(StorageLayout.STATUS_FILE);
      if (Files.exists(regions)) {
        JsonNode st = DbStatus.JSON.readTree(regions.toFile());
        System.out.printf("regions:      the repository is in both storage regions, writes to %s; %d copies owed, lag %.1f s%n",
            st.path("active").asText(), st.path("pending").asInt(), st.path("lagSeconds").asDouble());
      }
      JsonNode w = backups.path("window");
      System.out.println("restorable:   " + (w.isObject() ? w.path("from").asText() + " .. " + w.path("to").asText()
          : "nothing yet (the first base backup is being taken)"));
      JsonNode v = backups.path("lastVerification");
      System.out.println("verified:     " + (v.isObject()
          ? (v.path("ok").asBoolean() ? "ok" : "FAILED: " + v.path("error").asText()) + " " + ago(v.path("at")) + ", backup "
              + v.path("backup").asText() + " restored to " + v.path("restoredTo").asText() + " in " + v.path("duration").asText()
          : "not yet (first verification a minute after the first backup)"));
    }
    Instant updated = Instant.parse(status.path("updatedAt").asText());
    long age = Duration.between(updated, Instant.now()).toSeconds();
    if (age > 5) System.out.println("(this status is " + age + " s old: is `bulwark up` still running?)");
    return healthy ? 0 : 1;
  }

  private static String ago(JsonNode instant) {
    if (!instant.isTextual()) return "?";
    long s = Duration.between(Instant.parse(instant.asText()), Instant.now()).toSeconds();
    return s < 120 ? s + " s ago" : s < 7200 ? s / 60 + " min ago" : s / 3600 + " h ago";
  }

  private static String text(JsonNode n, String unit) {
    return n.isNumber() ? n.asText() + unit : "-";
  }
}
