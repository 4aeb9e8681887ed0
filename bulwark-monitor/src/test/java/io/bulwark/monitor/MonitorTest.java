package io.bulwark.monitor;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.bulwark.cluster.events.Event;
import io.bulwark.cluster.events.EventRecorder;
import io.bulwark.cluster.events.FileEventJournal;
import io.bulwark.core.metrics.Metrics;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The monitor's rules on a settable clock, with a scripted check source and the real file journal and
 * store: HARD states, one incident per root cause, escalation timers, acknowledgement, resolution,
 * flapping, and a restart in the middle of an incident.
 */
class MonitorTest {
  static final MonitorPolicy POLICY = MonitorPolicy.parse("""
      [monitor]
      group-wait = "2s"
      resolve-after = "5s"
      [[steps]]
      notify = ["manager"]
      ack-timeout = "30s"
      [[steps]]
      notify = ["developers"]
      [recipients.manager]
      email = "manager@example.test"
      [recipients.developers]
      webhook = "http://127.0.0.1:9/hook"
      [smtp]
      host = "127.0.0.1"
      port = 2525
      from = "bulwark@example.test"
      """, "test");

  @TempDir Path dir;
  final MutableClock clock = new MutableClock(Instant.parse("2026-12-01T12:00:00Z"));
  final Map<String, Observation> checks = new LinkedHashMap<>();
  final List<String> sent = new CopyOnWriteArrayList<>(); // "recipient|subject"
  final List<Notice> notices = new CopyOnWriteArrayList<>();
  volatile boolean failDeliveries;
  FileEventJournal journal;
  Monitor monitor;

  @BeforeEach
  void setUp() {
    journal = new FileEventJournal(dir.resolve("events.jsonl"));
    ok("database", "database");
    ok("failover", "database", "database");
    ok("component:pg-a", "database");
    ok("component:api-main", "component:api-main", "database");
    ok("component:api-backup", "component:api-backup", "database");
    monitor = newMonitor();
  }

  @AfterEach
  void tearDown() {
    monitor.close();
    journal.close();
  }

  Monitor newMonitor() {
    Notifier recording = (to, n) -> {
      if (failDeliveries) throw new IOException("connection refused");
      sent.add((to.email() != null ? to.email() : to.webhook()) + "|" + n.subject());
      notices.add(n);
    };
    return new Monitor(POLICY, () -> List.copyOf(checks.values()), journal, new EventRecorder(journal, "local", "monitor"),
        new IncidentStore(dir.resolve("monitor/incidents.json")), new Monitor.Notifiers(recording, recording), clock, new Metrics(), "test");
  }

  void ok(String check, String group, String... parents) {
    checks.put(check, new Observation(check, group, List.of(parents), CheckResult.of(Status.OK, check + " fine")));
  }

  void fail(String check, Status s) {
    Observation o = checks.get(check);
    checks.put(check, new Observation(check, o.group(), o.parents(), CheckResult.of(s, check + " is broken")));
  }

  void heal(String check) {
    Observation o = checks.get(check);
    checks.put(check, new Observation(check, o.group(), o.parents(), CheckResult.of(Status.OK, check + " fine")));
  }

  /** One second of the monitor's life: a round of checks, then five escalation passes 200 ms apart. */
  void second() {
    monitor.call(() -> {
      monitor.tick();
      return null;
    });
    for (int i = 0; i < 5; i++) {
      clock.advance(Duration.ofMillis(200));
      monitor.call(() -> {
        monitor.escalateAndDeliver();
        return null;
      });
      // deliveries run on their own thread and hand their outcome back to the loop: wait for both
      monitor.awaitDeliveries();
    }
  }

  void seconds(int n) {
    for (int i = 0; i < n; i++) second();
  }

  List<ObjectNode> incidents() {
    return monitor.incidents();
  }

  @Test
  void a_failure_is_soft_until_the_third_result_then_one_incident_and_step_one_after_the_group_wait() {
    seconds(2);
    fail("component:api-main", Status.CRITICAL);
    seconds(2);
    assertThat(incidents()).as("SOFT 1/3 and 2/3 open nothing").isEmpty();
    second();
    assertThat(incidents()).hasSize(1);
    ObjectNode i = incidents().get(0);
    assertThat(i.path("key").asText()).isEqualTo("component:api-main");
    assertThat(i.path("checks").path("component:api-main").asText()).startsWith("CRITICAL HARD");
    assertThat(sent).as("group-wait 2 s").isEmpty();
    seconds(2);
    assertThat(sent).hasSize(1);
    assertThat(sent.get(0)).startsWith("manager@example.test|[Bulwark test] OPEN #1");
    assertThat(notices.get(0).text()).contains("What failed").contains("bulwark incidents ack 1").contains("An API server dies");
  }

  @Test
  void an_incident_opened_by_the_checks_carries_what_the_journal_said_just_before() {
    new EventRecorder(journal, "local", "supervisor").record(Event.Kinds.COMPONENT_EXIT,
        "api-main (api) was killed by signal 9 (SIGKILL: killed, or out of memory); restart #1 in 500 ms");
    new EventRecorder(journal, "local", "supervisor").record(Event.Kinds.COMPONENT_EXIT, "worker-1 (worker) exited with code 1");
    fail("component:api-main", Status.CRITICAL);
    seconds(3);
    String timeline = incidents().get(0).path("timeline").toString();
    assertThat(timeline).contains("[component.exit] api-main (api) was killed by signal 9").doesNotContain("worker-1");
  }

  @Test
  void unacknowledged_escalates_to_step_two_at_its_timeout_and_an_acknowledged_one_does_not() {
    fail("component:api-main", Status.CRITICAL);
    seconds(5);
    assertThat(sent).hasSize(1);
    seconds(27);
    assertThat(sent).as("step 2 is due 30 s after step 1").hasSize(1);
    seconds(2);
    assertThat(sent).hasSize(2);
    assertThat(sent.get(1)).startsWith("http://127.0.0.1:9/hook|");
    assertThat(notices.get(1).text()).contains("Escalation step 2 of 2").contains("nobody acknowledged");

    fail("component:api-backup", Status.CRITICAL);
    seconds(5);
    assertThat(sent).hasSize(3);
    long second = incidents().get(0).path("id").asLong();
    assertThat(monitor.acknowledge(second, "alice")).isPresent();
    seconds(40);
    assertThat(sent).as("acknowledged: step 2 never told").hasSize(3);
    assertThat(incidents().get(0).path("state").asText()).isEqualTo("ACKNOWLEDGED");
    assertThat(incidents().get(0).path("acknowledgedBy").asText()).isEqualTo("alice");
  }

  @Test
  void a_dead_database_is_one_incident_with_the_api_checks_suppressed_as_dependent() {
    fail("database", Status.CRITICAL);
    fail("component:pg-a", Status.CRITICAL);
    fail("component:api-main", Status.CRITICAL);
    fail("component:api-backup", Status.CRITICAL);
    seconds(8);
    assertThat(incidents()).hasSize(1);
    ObjectNode i = incidents().get(0);
    assertThat(i.path("key").asText()).isEqualTo("database");
    assertThat(i.path("suppressed").toString()).contains("component:api-main", "component:api-backup");
    assertThat(sent).hasSize(1);
    // the database returns first; the API servers a little later: still the same incident
    heal("database");
    heal("component:pg-a");
    seconds(2);
    heal("component:api-main");
    heal("component:api-backup");
    seconds(3);
    assertThat(incidents()).hasSize(1);
  }

  @Test
  void a_failover_in_the_journal_opens_an_incident_even_when_no_check_saw_it_and_it_resolves_once_all_is_ok() {
    seconds(1);
    EventRecorder db = new EventRecorder(journal, "local", "db-failover");
    db.record(Event.Kinds.DB_FAILOVER, "primary pg-a failed (not accepting connections); failing over to pg-b");
    db.record(Event.Kinds.DB_FAILOVER, "failover done: pg-b is primary (812 ms after detection); rebuilding pg-a as its standby");
    fail("failover", Status.WARNING);
    seconds(3);
    assertThat(incidents()).hasSize(1);
    assertThat(sent).hasSize(1);
    assertThat(notices.get(0).text()).contains("812 ms after detection").contains("What Bulwark did");
    assertThat(notices.get(0).subject()).contains("primary pg-a failed");
    heal("failover");
    seconds(4);
    assertThat(incidents().get(0).path("state").asText()).isEqualTo("OPEN");
    seconds(2);
    ObjectNode i = incidents().get(0);
    assertThat(i.path("state").asText()).isEqualTo("RESOLVED");
    assertThat(i.path("resolvedBy").asText()).isEqualTo("monitor");
    assertThat(sent).hasSize(2);
    assertThat(sent.get(1)).contains("RESOLVED #1");
    // a planned switchover is not an incident
    db.record(Event.Kinds.DB_FAILOVER, "switchover requested: pg-b -> pg-a");
    seconds(2);
    assertThat(incidents()).hasSize(1);
  }

  @Test
  void a_lost_host_and_the_failover_it_caused_are_one_incident() {
    ok("node:host-a", "node:host-a");
    seconds(1);
    // the database fails over first (the lease ran out), the host's registration expires a moment later
    new EventRecorder(journal, "host-b", "agent").record(Event.Kinds.DB_FAILOVER,
        "host-b took over as primary: host-a's lease expired (promoted in 301 ms after acquiring the lease)");
    second();
    fail("node:host-a", Status.CRITICAL);
    seconds(8);
    assertThat(incidents()).hasSize(1);
    assertThat(incidents().get(0).path("checks").has("node:host-a")).isTrue();
    assertThat(incidents().get(0).path("timeline").toString()).contains("the root cause of this incident");
    heal("node:host-a");
    seconds(7);
    assertThat(incidents()).hasSize(1);
    assertThat(incidents().get(0).path("state").asText()).isEqualTo("RESOLVED");
  }

  @Test
  void api_failures_seen_before_the_failover_was_recorded_merge_into_the_failovers_incident() {
    seconds(1);
    fail("component:api-main", Status.CRITICAL); // the API lost its database; the database check has not seen it yet
    seconds(4);
    assertThat(incidents()).hasSize(1);
    new EventRecorder(journal, "host-a", "agent").record(Event.Kinds.DB_FAILOVER,
        "host-a took over as primary: no leader (promoted in 291 ms after acquiring the lease)");
    second();
    List<ObjectNode> all = incidents();
    assertThat(all).hasSize(2);
    assertThat(all.get(0).path("key").asText()).isEqualTo("database");
    assertThat(all.get(0).path("suppressed").toString()).contains("component:api-main");
    assertThat(all.get(1).path("state").asText()).isEqualTo("RESOLVED");
    assertThat(all.get(1).path("timeline").toString()).contains("merged into #2");
    assertThat(all.get(1).path("mergedInto").asLong()).isEqualTo(2);
    assertThat(incidents().stream().filter(i -> !i.path("state").asText().equals("RESOLVED"))).hasSize(1);
  }

  @Test
  void a_recovery_recorded_long_before_the_monitor_started_is_history_not_an_incident() {
    Clock tenMinutesAgo = Clock.fixed(clock.instant().minus(Duration.ofMinutes(10)), ZoneOffset.UTC);
    new EventRecorder(journal, "local", "db-failover", tenMinutesAgo).record(Event.Kinds.DB_FAILOVER,
        "failover done: pg-b is primary (400 ms after detection)");
    seconds(3);
    assertThat(incidents()).isEmpty();
  }

  @Test
  void a_flapping_component_is_one_flapping_incident_not_a_storm() {
    // down 2 s, up 1 s: never HARD (3 results in a row), but 2 state changes in every 3 results
    for (int round = 0; round < 8; round++) {
      fail("component:api-main", Status.CRITICAL);
      seconds(2);
      heal("component:api-main");
      seconds(1);
    }
    assertThat(incidents()).hasSize(1);
    assertThat(incidents().get(0).path("flapping").asBoolean()).isTrue();
    assertThat(incidents().get(0).path("title").asText()).startsWith("flapping: ");
    assertThat(sent).hasSize(1);
    seconds(40); // settles: flapping ends below 25 %, then resolve-after
    assertThat(incidents()).hasSize(1);
    assertThat(incidents().get(0).path("state").asText()).isEqualTo("RESOLVED");
  }

  @Test
  void a_restarted_monitor_keeps_its_incidents_and_timers_and_tells_nobody_twice() {
    fail("component:api-main", Status.CRITICAL);
    seconds(6);
    assertThat(sent).hasSize(1);
    monitor.close();
    monitor = newMonitor(); // a new process reading the same file
    seconds(10);
    assertThat(incidents()).hasSize(1);
    assertThat(sent).as("no duplicate").hasSize(1);
    seconds(20); // step 2's timer ran on across the restart: 30 s after step 1
    assertThat(sent).hasSize(2);
  }

  @Test
  void a_failed_delivery_is_retried_with_backoff_until_it_goes_through() {
    failDeliveries = true;
    fail("component:api-main", Status.CRITICAL);
    seconds(8);
    assertThat(sent).isEmpty();
    ObjectNode d = (ObjectNode) incidents().get(0).path("deliveries").get(0);
    assertThat(d.path("attempts").asInt()).isBetween(2, 4);
    assertThat(d.path("lastError").asText()).contains("connection refused");
    failDeliveries = false;
    seconds(10);
    assertThat(sent).hasSize(1);
  }

  /** A clock the test moves. */
  static final class MutableClock extends Clock {
    private volatile Instant now;

    MutableClock(Instant start) {
      this.now = start;
    }

    void advance(Duration d) {
      now = now.plus(d);
    }

    @Override
    public Instant instant() {
      return now;
    }

    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }
  }

  static List<String> lines(List<ObjectNode> in) {
    List<String> out = new ArrayList<>();
    in.forEach(n -> out.add(n.toString()));
    return out;
  }
}
