package io.bulwark.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.bulwark.cluster.events.Event;
import io.bulwark.cluster.events.EventJournal;
import io.bulwark.cluster.events.FileEventJournal;
import io.bulwark.cluster.spec.ClusterSpec;
import io.bulwark.core.BulwarkException;
import io.bulwark.etcd.EtcdClusterState;
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
    if (clusterFile != null) return clusterEvents();
    FileEventJournal journal = new FileEventJournal(new DataDir(dataDir).events());
    Instant from = since == null ? Instant.MIN : Instant.now().minus(since);
    // the rotated file first (it ends before the current one begins), then the current one to its end
    if (java.nio.file.Files.exists(journal.previous())) {
      print(new FileEventJournal(journal.previous()).read(EventJournal.Page.START, Integer.MAX_VALUE).events(), from);
    }
    EventJournal.Page page = journal.read(EventJournal.Page.START, Integer.MAX_VALUE);
    print(page.events(), from);
    long cursor = page.cursor();
    while (follow) {
      Thread.sleep(200); // polling a local file for appended lines; a watch service would fire per write anyway
      page = journal.read(cursor, 1000);
      print(page.events(), from);
      cursor = page.cursor();
    }
    return 0;
  }

  private int clusterEvents() throws Exception {
    ClusterSpec spec = ClusterSpec.read(clusterFile);
    if (spec.etcd().endpoints().isEmpty()) throw new BulwarkException("cluster '" + spec.name() + "' names no etcd endpoint");
    try (EtcdClusterState state = new EtcdClusterState(spec.etcd().endpoints(), spec.etcdPrefix(), NodeAgent.ETCD_TIMEOUT)) {
      EventJournal journal = state.journal();
      long cursor = EventJournal.Page.START;
      do {
        EventJournal.Page page = journal.read(cursor, 1000);
        print(page.events(), since == null ? Instant.MIN : Instant.now().minus(since));
        if (page.cursor() == cursor && !follow) break;
        if (page.cursor() == cursor) Thread.sleep(200); // polling etcd for new events
        cursor = page.cursor();
      } while (true);
    }
    return 0;
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
