package io.bulwark.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.bulwark.cluster.events.Event;
import io.bulwark.cluster.events.EventJournal;
import io.bulwark.cluster.events.FileEventJournal;
import io.bulwark.cluster.spec.ClusterSpec;
import io.bulwark.etcd.EtcdClusterState;
import io.bulwark.node.DataDir;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Prints the deployment's event journal: what happened, where, and what Bulwark did about it. */
@Command(name = "events", mixinStandardHelpOptions = true,
    description = {"Show what happened to the deployment: failovers, fencings, standby rebuilds, replication",
        "changes, component crashes and restarts, oldest first. Kept in DIR/events.jsonl (bounded; the",
        "older half in events.1.jsonl).",
        "",
        "Kinds: db.primary, db.standby, db.replication, db.failover, db.fence, db.rebuild, component.exit,",
        "component.start. --kind takes a kind or a prefix (db, component)."})
final class EventsCommand implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper().registerModule(new JavaTimeModule())
      .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS);
  private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS").withZone(ZoneId.systemDefault());

  @Option(names = "--data-dir", defaultValue = DataDir.DEFAULT, paramLabel = "DIR", description = "Data directory (default: ./${DEFAULT-VALUE})")
  Path dataDir;

  @Option(names = {"-f", "--follow"}, description = "Keep printing events as they are recorded (Ctrl-C to stop)")
  boolean follow;

  @Option(names = "--json", description = "One JSON object per line: {at, node, source, kind, message}")
  boolean json;

  @Option(names = "--since", paramLabel = "DURATION", converter = DurationConverter.class,
      description = "Only events of the last DURATION, e.g. 10m or 24h (default: all that are kept)")
  Duration since;

  @Option(names = "--kind", paramLabel = "KIND", description = "Only events of this kind, or of kinds under this prefix (db, component)")
  String kind;

  @Option(names = "--cluster", paramLabel = "FILE", description = "The cluster's journal in etcd (every node's events) instead of DIR's")
  Path clusterFile;

  @Override
  public Integer call() throws Exception {
    Instant from = since == null ? Instant.MIN : Instant.now().minus(since);
    if (clusterFile != null) {
      try (EtcdClusterState state = EtcdClusterState.of(ClusterSpec.read(clusterFile), ClusterCommand.ETCD_TIMEOUT)) {
        printAll(state.journal(), from);
      }
      return 0;
    }
    FileEventJournal journal = new FileEventJournal(new DataDir(dataDir).events());
    // the rotated file first: it ends where the current one begins
    if (Files.exists(journal.previous())) print(new FileEventJournal(journal.previous()).all(), from);
    printAll(journal, from);
    return 0;
  }

  /** Everything the journal holds from its start, then, with --follow, what is appended, polled 5 times a second. */
  private void printAll(EventJournal journal, Instant from) throws Exception {
    long cursor = EventJournal.Page.START;
    while (true) {
      EventJournal.Page page = journal.read(cursor, 1000);
      print(page.events(), from);
      if (page.cursor() == cursor) {
        if (!follow) return;
        Thread.sleep(200); // polling for appended events
      }
      cursor = page.cursor();
    }
  }

  private void print(List<Event> events, Instant from) throws Exception {
    for (Event e : events) {
      if (e.at().isBefore(from)) continue;
      if (kind != null && !e.kind().equals(kind) && !e.kind().startsWith(kind + ".")) continue;
      if (json) {
        System.out.println(JSON.writeValueAsString(e));
      } else {
        System.out.printf("%s  %-6s %-12s %-17s %s%n", TIME.format(e.at()), e.node(), e.source(), e.kind(), e.message());
      }
    }
    System.out.flush();
  }
}
