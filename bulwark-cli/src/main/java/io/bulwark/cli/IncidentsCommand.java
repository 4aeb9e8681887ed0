package io.bulwark.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.bulwark.core.BulwarkException;
import io.bulwark.node.DataDir;
import io.bulwark.node.RunningComponents;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "incidents", mixinStandardHelpOptions = true,
    subcommands = {IncidentsCommand.Show.class, IncidentsCommand.Ack.class, IncidentsCommand.Resolve.class},
    description = {"The built-in monitor's incidents: one per root cause, with what failed, what Bulwark did and what is still",
        "degraded. Lists the open ones (--all: the resolved ones too); `incidents ack ID` stops the escalation,",
        "`incidents resolve ID` closes one by hand. Reads the monitor's file when the monitor is not running."})
final class IncidentsCommand implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Option(names = "--data-dir", defaultValue = DataDir.DEFAULT, paramLabel = "DIR", description = "Data directory (default: ./${DEFAULT-VALUE})")
  Path dataDir;

  @Option(names = "--all", description = "Also the resolved incidents kept (the newest 500)")
  boolean all;

  @Option(names = "--json", description = "The incidents as a JSON array")
  boolean json;

  @Override
  public Integer call() throws Exception {
    DataDir dir = new DataDir(dataDir);
    List<JsonNode> incidents = new ArrayList<>();
    for (JsonNode i : list(dir)) if (all || !i.path("state").asText().equals("RESOLVED")) incidents.add(i);
    if (json) {
      System.out.println(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(incidents));
      return 0;
    }
    if (incidents.isEmpty()) {
      System.out.println(all ? "no incidents" : "no open incidents (--all shows the resolved ones)");
      return 0;
    }
    System.out.printf("%-6s %-13s %-22s %-9s %s%n", "ID", "STATE", "OPENED (UTC)", "TOLD", "WHAT");
    for (JsonNode i : incidents) {
      long told = 0;
      for (JsonNode d : i.path("deliveries")) if (d.path("sent").asBoolean()) told++;
      System.out.printf("%-6s %-13s %-22s %-9s %s%n", "#" + i.path("id").asLong(), i.path("state").asText(),
          i.path("openedAt").asText().replace('T', ' ').replaceFirst("\\.\\d+Z$", "Z"), told + " sent", i.path("title").asText());
    }
    return 0;
  }

  /** Every incident kept, newest first: from the monitor, or its file when it is not running. */
  static List<JsonNode> list(DataDir dir) throws IOException {
    List<JsonNode> out = new ArrayList<>();
    Integer port = monitorPort(dir);
    if (port != null) {
      JsonNode arr = request(port, "GET", "/incidents", null);
      arr.forEach(out::add);
      return out;
    }
    if (!Files.exists(dir.incidents())) return out;
    JsonNode arr = JSON.readTree(dir.incidents().toFile()).path("incidents");
    for (int i = arr.size() - 1; i >= 0; i--) out.add(arr.get(i));
    return out;
  }

  /** The admin port of the monitor running on this data directory, or null. */
  static Integer monitorPort(DataDir dir) {
    return RunningComponents.find(dir).flatMap(r -> r.select("monitor").stream().findFirst())
        .filter(Checks::alive)
        .map(c -> c.path("port").asInt()).orElse(null);
  }

  static JsonNode request(int port, String method, String path, String body) throws IOException {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(15));
    if (body == null) b.method(method, HttpRequest.BodyPublishers.noBody());
    else b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(body));
    try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build()) {
      HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
      JsonNode n = JSON.readTree(r.body());
      if (r.statusCode() / 100 != 2) throw new BulwarkException(n.path("detail").asText(r.body()));
      return n;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    } catch (java.net.ConnectException e) {
      throw new BulwarkException("the monitor does not answer on 127.0.0.1:" + port + "; is `bulwark up` running?");
    }
  }

  @Command(name = "show", mixinStandardHelpOptions = true, description = "One incident: its diagnosis, checks, timeline and notifications")
  static final class Show implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "ID", description = "The incident's number (#ID in the list)")
    String id;

    @Option(names = "--data-dir", defaultValue = DataDir.DEFAULT, paramLabel = "DIR", description = "Data directory (default: ./${DEFAULT-VALUE})")
    Path dataDir;

    @Option(names = "--json", description = "As JSON")
    boolean json;

    @Override
    public Integer call() throws Exception {
      long n = number(id);
      JsonNode i = list(new DataDir(dataDir)).stream().filter(x -> x.path("id").asLong() == n).findFirst()
          .orElseThrow(() -> new BulwarkException("no incident #" + n + "; `bulwark incidents --all` lists them"));
      if (json) {
        System.out.println(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(i));
        return 0;
      }
      System.out.println("#" + n + " " + i.path("state").asText() + (i.path("flapping").asBoolean() ? " (flapping)" : "") + ": " + i.path("title").asText());
      System.out.println("opened " + i.path("openedAt").asText() + (i.path("acknowledgedAt").isTextual() ? ", acknowledged "
          + i.path("acknowledgedAt").asText() + " by " + i.path("acknowledgedBy").asText() : "")
          + (i.path("resolvedAt").isTextual() ? ", resolved " + i.path("resolvedAt").asText() + " by " + i.path("resolvedBy").asText() : ""));
      System.out.println();
      for (JsonNode l : i.path("diagnosis")) System.out.println(l.asText());
      System.out.println("\nChecks:");
      i.path("checks").fields().forEachRemaining(e -> System.out.println("  " + e.getKey() + ": " + e.getValue().asText()));
      System.out.println("\nTimeline (UTC):");
      for (JsonNode l : i.path("timeline")) System.out.println("  " + l.asText());
      System.out.println("\nNotifications:");
      for (JsonNode d : i.path("deliveries")) {
        System.out.println("  step " + (d.path("step").asInt() + 1) + " " + d.path("kind").asText().toLowerCase() + " to " + d.path("recipient").asText()
            + ": " + (d.path("sent").asBoolean() ? "sent " + d.path("sentAt").asText()
                : "owed (" + d.path("attempts").asInt() + " attempts" + (d.path("lastError").isTextual() ? "; " + d.path("lastError").asText() : "") + ")"));
      }
      return 0;
    }
  }

  abstract static class Action implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "ID", description = "The incident's number (#ID in the list)")
    String id;

    @Option(names = "--by", paramLabel = "NAME", description = "Who (default: the user name)")
    String by;

    @Option(names = "--data-dir", defaultValue = DataDir.DEFAULT, paramLabel = "DIR", description = "Data directory (default: ./${DEFAULT-VALUE})")
    Path dataDir;

    abstract String action();

    @Override
    public Integer call() throws Exception {
      long n = number(id);
      DataDir dir = new DataDir(dataDir);
      Integer port = monitorPort(dir);
      if (port == null) throw new BulwarkException("the monitor is not running on " + dir.root() + "; start it with `bulwark up`");
      String who = by != null ? by : System.getProperty("user.name", "operator");
      JsonNode i = request(port, "POST", "/incidents/" + n + "/" + action(), JSON.createObjectNode().put("by", who).toString());
      System.out.println("bulwark: incident #" + n + " is " + i.path("state").asText().toLowerCase() + ": " + i.path("title").asText());
      return 0;
    }
  }

  @Command(name = "ack", mixinStandardHelpOptions = true, description = "Acknowledge an incident: the next escalation steps are not told")
  static final class Ack extends Action {
    @Override
    String action() {
      return "ack";
    }
  }

  @Command(name = "resolve", mixinStandardHelpOptions = true,
      description = "Resolve an incident by hand (whoever was told is told it is resolved; it opens again if its checks still fail)")
  static final class Resolve extends Action {
    @Override
    String action() {
      return "resolve";
    }
  }

  static long number(String id) {
    String t = id.startsWith("#") ? id.substring(1) : id;
    try {
      return Long.parseLong(t);
    } catch (NumberFormatException e) {
      throw new BulwarkException("an incident is a number, e.g. 12 or #12; got '" + id + "'");
    }
  }
}
