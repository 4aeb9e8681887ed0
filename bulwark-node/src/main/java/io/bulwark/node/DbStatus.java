package io.bulwark.node;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.datatype.jdk8.Jdk8Module;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.bulwark.dr.BackupService;
import io.bulwark.dr.FailoverController;
import io.bulwark.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The database part of a running {@code bulwark up}, published for {@code bulwark db status} in
 * run/db-status.json (rewritten every second), and the file-based request channel of {@code bulwark
 * db failover}: only processes that can write the data directory's run/ can ask.
 */
public final class DbStatus {
  public static final String FILE = "db-status.json";
  public static final String SWITCHOVER_REQUEST = "db-switchover.request";
  public static final String SWITCHOVER_RESULT = "db-switchover.result";
  public static final ObjectMapper JSON = new ObjectMapper().registerModule(new JavaTimeModule()).registerModule(new Jdk8Module())
      .disable(SerializationFeature.WRITE_DURATIONS_AS_TIMESTAMPS)
      .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS).enable(SerializationFeature.INDENT_OUTPUT);
  private static final AtomicBoolean SWITCHOVER_RUNNING = new AtomicBoolean();

  private DbStatus() {}

  static void write(DataDir dir, FailoverController controller, EmbeddedPostgres single, BackupService backups) {
    ObjectNode root = JSON.createObjectNode();
    root.put("updatedAt", Instant.now().toString());
    if (controller != null) {
      root.set("cluster", JSON.valueToTree(controller.status()));
    } else {
      ObjectNode cluster = root.putObject("cluster");
      cluster.put("primary", "pg-a");
      cluster.put("replicationMode", "none (single node: started with --no-standby)");
      cluster.putArray("nodes").addObject().put("name", "pg-a").put("role", "primary").put("port", single.port());
    }
    if (backups != null) root.set("backups", JSON.valueToTree(backups.status()));
    writeAtomically(dir.run().resolve(FILE), root);
  }

  static void serveSwitchover(DataDir dir, FailoverController controller) {
    Path request = dir.run().resolve(SWITCHOVER_REQUEST);
    if (!Files.exists(request) || !SWITCHOVER_RUNNING.compareAndSet(false, true)) return;
    String id;
    try {
      id = Files.readString(request).strip();
      Files.deleteIfExists(request);
    } catch (IOException e) {
      SWITCHOVER_RUNNING.set(false);
      return;
    }
    controller.switchover().whenComplete((failover, error) -> {
      ObjectNode result = JSON.createObjectNode();
      result.put("id", id);
      result.put("ok", error == null);
      if (error != null) {
        Throwable cause = error.getCause() != null ? error.getCause() : error;
        result.put("error", cause.getMessage());
      } else {
        result.set("switchover", JSON.valueToTree(failover));
      }
      writeAtomically(dir.run().resolve(SWITCHOVER_RESULT), result);
      SWITCHOVER_RUNNING.set(false);
    });
  }

  static void writeAtomically(Path file, Object value) {
    try {
      Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
      JSON.writeValue(tmp.toFile(), value);
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
    }
  }
}
