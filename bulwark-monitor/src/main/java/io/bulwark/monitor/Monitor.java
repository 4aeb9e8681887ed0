package io.bulwark.monitor;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.bulwark.cluster.events.Event;
import io.bulwark.cluster.events.EventJournal;
import io.bulwark.cluster.events.EventRecorder;
import io.bulwark.core.metrics.Metrics;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The built-in monitor: every {@code interval} it runs every check ({@link CheckSource}), keeps each
 * one's SOFT/HARD state and flap detection ({@link CheckState}), reads what happened from the event
 * journal, and keeps one {@link Incident} per root cause:
 *
 * <ul>
 *   <li>a HARD problem or a flapping check opens an incident for its group, unless a check it depends
 *       on is failing or its group already has an open incident: then it joins that incident as
 *       suppressed (a dead database opens one incident, not one per API server and worker);
 *   <li>an automatic failover, fencing, storage-region or DNS switch in the journal opens (or joins)
 *       an incident too, even when the recovery was faster than the checks could see;
 *   <li>the journal's events about the incident's group become its timeline, and with the checks,
 *       its {@link Diagnosis};
 *   <li>it escalates by the policy: step 1 after {@code group-wait}, step N+1 when nobody acknowledged
 *       within step N's {@code ack-timeout}; deliveries are retried with backoff and recorded, so
 *       nobody is told twice (also across a restart of the monitor);
 *   <li>it resolves by itself once every check of it has been OK for {@code resolve-after}, and tells
 *       whoever was told it opened.
 * </ul>
 *
 * <p>Threads: the loop thread owns every check state and incident; admin requests run on it too
 * ({@link #call}). Deliveries run on a separate thread (an SMTP server may take seconds) and hand
 * their outcome back to the loop.
 */
public final class Monitor implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Monitor.class);
  static final Duration ESCALATE_EVERY = Duration.ofMillis(200);
  static final Duration MIN_RETRY = Duration.ofSeconds(1);
  static final Duration MAX_RETRY = Duration.ofMinutes(5);
  private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss").withZone(ZoneOffset.UTC);
  /** The journal kind of the monitor's own events (incidents opened, acknowledged, resolved); it skips them when it reads. */
  public static final String INCIDENT_KIND = "monitor.incident";

  /** Where recipients' notices go, by how they are reached. */
  public record Notifiers(Notifier email, Notifier webhook) {
    Notifier forRecipient(MonitorPolicy.Recipient r) {
      return r.email() != null ? email : webhook;
    }
  }

  private final MonitorPolicy policy;
  private final CheckSource source;
  private final EventJournal journal;
  private final EventRecorder events;
  private final IncidentStore store;
  private final Notifiers notifiers;
  private final Clock clock;
  private final String deployment;
  private final ScheduledExecutorService loop =
      Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("monitor").factory());
  /** Runs the checks' probes (up to a few seconds a round), so that the loop stays free to record deliveries and answer. */
  private final ScheduledExecutorService probes =
      Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("monitor-probes").daemon().factory());
  private final ExecutorService delivery = Executors.newSingleThreadExecutor(Thread.ofPlatform().name("monitor-delivery").daemon().factory());

  // the loop's own
  private final Map<String, CheckState> states = new LinkedHashMap<>();
  private final Map<String, Observation> observed = new LinkedHashMap<>();
  private final Set<Incident.Delivery> inFlight = new HashSet<>();
  /** The journal's events of the last minute, to give an incident opened by the checks what was recorded just before. */
  private final java.util.ArrayDeque<Event> recent = new java.util.ArrayDeque<>();
  private static final Duration RECENT = Duration.ofSeconds(60);
  private static final int RECENT_MAX = 500;
  private IncidentStore.Snapshot snap;
  private boolean dirty;
  private boolean journalDown;
  private volatile boolean ready;
  private volatile long lastTickNanos;
  private final Metrics.Counter delivered;
  private final Metrics.Counter failedDeliveries;
  private final Metrics.Counter opened;
  private volatile int openCount;
  private volatile int problemChecks;

  public Monitor(MonitorPolicy policy, CheckSource source, EventJournal journal, EventRecorder events, IncidentStore store,
      Notifiers notifiers, Clock clock, Metrics metrics, String deployment) {
    this.policy = policy;
    this.source = source;
    this.journal = journal;
    this.events = events;
    this.store = store;
    this.notifiers = notifiers;
    this.clock = clock;
    this.deployment = deployment;
    this.delivered = metrics.counter("bulwark_monitor_notifications_total", "Notifications delivered", "result", "delivered");
    this.failedDeliveries = metrics.counter("bulwark_monitor_notifications_total", "Notifications delivered", "result", "failed");
    this.opened = metrics.counter("bulwark_monitor_incidents_opened_total", "Incidents opened");
    metrics.gauge("bulwark_monitor_incidents_open", "Incidents open (not resolved)", () -> openCount);
    metrics.gauge("bulwark_monitor_checks_failing", "Checks not OK (SOFT or HARD)", () -> problemChecks);
  }

  /** Loads the saved incidents and starts checking. */
  public void start() {
    loop.execute(this::load);
    probes.scheduleWithFixedDelay(() -> guarded(this::probeRound), 0, policy.monitor().checkInterval().toMillis(), TimeUnit.MILLISECONDS);
    loop.scheduleWithFixedDelay(() -> guarded(this::escalateAndDeliver), ESCALATE_EVERY.toMillis(), ESCALATE_EVERY.toMillis(),
        TimeUnit.MILLISECONDS);
  }

  private void guarded(Runnable r) {
    try {
      r.run();
    } catch (RuntimeException e) {
      log.error("monitor: {}", e.toString(), e);
    } catch (Error e) {
      // a scheduled task that throws is never run again: a monitor whose loop died would look alive and
      // watch nothing. Die instead, so that the supervisor (or the agent) starts a fresh one.
      log.error("monitor: {}; exiting so that a fresh monitor is started", e.toString(), e);
      Runtime.getRuntime().halt(70);
    }
  }

  /** True once every check has run at least once, and while rounds keep running (none missed for 10 intervals). */
  public boolean ready() {
    return ready && System.nanoTime() - lastTickNanos < policy.monitor().checkInterval().multipliedBy(10).plusSeconds(5).toNanos();
  }

  // ------------------------------------------------------------------ for tests and the admin API, on the loop thread

  /**
   * Waits until every delivery handed out so far has been attempted and its outcome recorded on the
   * loop (tests): the delivery thread takes them in order and hands each outcome to the loop before
   * the next, so a no-op behind them on that thread, then one on the loop, comes after them all.
   */
  void awaitDeliveries() {
    try {
      delivery.submit(() -> { }).get(10, TimeUnit.SECONDS);
    } catch (ExecutionException | TimeoutException e) {
      throw new IllegalStateException("the monitor's deliveries did not finish within 10 s", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
    call(() -> null);
  }

  /** Runs {@code task} on the loop thread and waits for it (at most 10 s). */
  public <T> T call(Callable<T> task) {
    try {
      return loop.submit(task).get(10, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException r) throw r;
      throw new IllegalStateException(e.getCause());
    } catch (TimeoutException e) {
      throw new IllegalStateException("the monitor's loop did not answer within 10 s");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted");
    }
  }

  void load() {
    if (snap == null) {
      snap = store.load();
      openCount = (int) snap.incidents.stream().filter(Incident::open).count();
    }
  }

  /** The incidents, newest first, as JSON copies. */
  public List<ObjectNode> incidents() {
    return call(() -> {
      load();
      List<ObjectNode> out = new ArrayList<>();
      for (int i = snap.incidents.size() - 1; i >= 0; i--) out.add(IncidentStore.JSON.valueToTree(snap.incidents.get(i)));
      return out;
    });
  }

  /** Every check's state now. */
  public List<ObjectNode> checks() {
    return call(() -> {
      List<ObjectNode> out = new ArrayList<>();
      states.forEach((name, s) -> {
        ObjectNode n = IncidentStore.JSON.createObjectNode().put("check", name).put("group", observed.get(name).group())
            .put("status", s.status().name()).put("hard", s.hard()).put("attempt", s.attempt()).put("state", s.describe())
            .put("flapping", s.flapping()).put("flapPercent", Math.round(s.flapPercent() * 10) / 10.0)
            .put("message", s.last().message());
        if (s.lastChange() != null) n.put("since", s.lastChange().toString());
        out.add(n);
      });
      return out;
    });
  }

  /** Acknowledges an open incident: no further escalation step is told. */
  public Optional<ObjectNode> acknowledge(long id, String by) {
    return call(() -> {
      load();
      Incident i = find(id);
      if (i == null) return Optional.empty();
      if (i.state == Incident.State.OPEN) {
        i.state = Incident.State.ACKNOWLEDGED;
        i.acknowledgedAt = clock.instant();
        i.acknowledgedBy = by;
        note(i, "acknowledged by " + by);
        events.record(INCIDENT_KIND, "incident " + i.ref() + " acknowledged by " + by + ": " + i.title);
        save();
      }
      return Optional.of(IncidentStore.JSON.valueToTree(i));
    });
  }

  /** Resolves an incident by hand (it reopens as a new one if its checks still fail). */
  public Optional<ObjectNode> resolve(long id, String by) {
    return call(() -> {
      load();
      Incident i = find(id);
      if (i == null) return Optional.empty();
      if (i.open()) {
        resolve(i, "resolved by " + by, by);
        save();
      }
      return Optional.of(IncidentStore.JSON.valueToTree(i));
    });
  }

  private Incident find(long id) {
    return snap.incidents.stream().filter(x -> x.id == id).findFirst().orElse(null);
  }

  // ------------------------------------------------------------------ the loop

  /**
   * One round of probes, on the probe thread; what they found is then judged on the loop thread. A
   * round's probes can take seconds (a check's bound is 3 s): had they run on the loop, a notice sent
   * meanwhile would wait that long to be recorded as sent, and a monitor killed in between would send
   * it again after its restart.
   */
  private void probeRound() {
    List<Observation> round = source.runAll();
    try {
      loop.submit(() -> guarded(() -> judge(round))).get();
    } catch (ExecutionException e) {
      log.error("monitor: {}", e.getCause().toString(), e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RejectedExecutionException e) {
      // closing
    }
  }

  /** One round: every check, the journal's new events, the incidents. Runs on the loop thread (tests call it directly). */
  void tick() {
    judge(source.runAll());
  }

  private void judge(List<Observation> round) {
    load();
    Instant now = clock.instant();
    Set<String> seen = new HashSet<>();
    for (Observation o : round) {
      seen.add(o.check());
      observed.put(o.check(), o);
      states.computeIfAbsent(o.check(), n -> new CheckState(policy.monitor().attempts(), policy.monitor().low(), policy.monitor().high()))
          .observe(o.result(), now);
    }
    states.keySet().retainAll(seen);
    observed.keySet().retainAll(seen);
    problemChecks = (int) states.values().stream().filter(s -> !s.status().ok()).count();
    readJournal(now);
    correlate(now);
    resolveRecovered(now);
    ready = true;
    lastTickNanos = System.nanoTime();
    if (dirty) save();
  }

  private void readJournal(Instant now) {
    EventJournal.Page page;
    try {
      page = journal.read(snap.journalCursor, 1000);
    } catch (RuntimeException e) {
      // a cluster's journal is in etcd: while it does not answer, the checks go on (and say so) without it
      if (!journalDown) log.warn("cannot read the event journal ({}); checking on without it", e.getMessage());
      journalDown = true;
      return;
    }
    journalDown = false;
    for (Event e : page.events()) {
      if (e.kind().startsWith("monitor.")) continue;
      recent.addLast(e);
      while (!recent.isEmpty() && (recent.size() > RECENT_MAX || Duration.between(recent.peekFirst().at(), now).compareTo(RECENT) > 0)) {
        recent.removeFirst();
      }
      String group = groupOf(e);
      Incident open = openIncident(group);
      if (open == null) {
        // events of checks' groups (a component that exited and was restarted) join their incident
        open = snap.incidents.stream().filter(i -> i.open() && related(i, e)).findFirst().orElse(null);
      }
      // history is not news: a monitor started (or restarted) after a recovery does not page for it
      boolean recovery = Duration.between(e.at(), now).compareTo(RECENT) <= 0 && opensIncident(e);
      if (open == null && recovery) {
        open = recentHostLoss(now); // a failover because a host was lost belongs to the host's incident
        if (open == null) {
          open = openNew(group, e.message(), e.at());
          open.byEvent = true;
          mergeDependents(open, now);
        }
      }
      if (open != null) {
        if (recovery && !open.key.startsWith(NODE)) open.byEvent = true; // a recovery happened in it
        note(open, e.at(), "[" + e.kind() + "] " + e.message());
        if (recovery) open.lastProblemAt = max(open.lastProblemAt, now);
      }
    }
    if (page.cursor() != snap.journalCursor) {
      snap.journalCursor = page.cursor();
      dirty = true;
    }
  }

  /** Automatic recoveries are incidents even when the checks never saw a HARD problem (they were that fast). */
  static boolean opensIncident(Event e) {
    return switch (e.kind()) {
      case Event.Kinds.DB_FAILOVER -> !e.message().startsWith("switchover") && !e.message().contains("promoting");
      case Event.Kinds.DB_FENCE -> true;
      case Event.Kinds.STORAGE_SWITCH, Event.Kinds.DNS_SWITCH -> !e.message().contains("planned") && !e.message().contains("forced switch");
      default -> false;
    };
  }

  /** The group an event is about. */
  static String groupOf(Event e) {
    String k = e.kind();
    if (k.startsWith("db.")) return Groups.DATABASE;
    if (k.startsWith("archive.")) return Groups.ARCHIVE;
    if (k.startsWith("storage.")) return Groups.STORAGE;
    if (k.startsWith("dns.")) return Groups.DNS;
    return "";
  }

  /** An event about a component ("api-main (api) was killed …") belongs to that component's incident. */
  private static boolean related(Incident i, Event e) {
    if (i.key.equals(Groups.DATABASE) && e.kind().startsWith("component.") && e.message().startsWith("pg-")) return true;
    List<String> names = new ArrayList<>();
    if (i.key.startsWith(Groups.COMPONENT)) names.add(i.key.substring(Groups.COMPONENT.length()));
    for (String check : i.checks.keySet()) if (check.startsWith(Groups.COMPONENT)) names.add(check.substring(Groups.COMPONENT.length()));
    for (String name : names) if (e.message().startsWith(name + " ") || e.message().contains(" " + name + " ")) return true;
    return false;
  }

  private void correlate(Instant now) {
    // parents first: a check whose parent fails in this round joins the parent's incident
    List<String> order = new ArrayList<>(states.keySet());
    order.sort((a, b) -> Integer.compare(observed.get(a).parents().size(), observed.get(b).parents().size()));
    for (String name : order) {
      CheckState s = states.get(name);
      Observation o = observed.get(name);
      boolean problem = s.hardProblem() || s.flapping();
      Incident member = openIncident(o.group());
      if (member == null) member = joinedIncident(name);
      if (!problem) {
        if (member != null) recordCheck(member, name, s, false);
        else snap.incidents.stream().filter(i -> i.open() && i.checks.containsKey(name)).forEach(i -> recordCheck(i, name, s, false));
        continue;
      }
      if (member != null) { // its own group's incident: a member, whatever its parents say
        if (!member.checks.containsKey(name)) note(member, now, name + " " + s.describe() + ": " + s.last().message());
        recordCheck(member, name, s, true);
        flagFlapping(member, name, s, now);
        continue;
      }
      // the first open incident of a group this check depends on
      Incident parentIncident = o.parents().stream().map(observed::get).filter(java.util.Objects::nonNull)
          .map(po -> openIncident(po.group())).filter(java.util.Objects::nonNull).findFirst().orElse(null);
      if (parentIncident != null) {
        if (!parentIncident.suppressed.contains(name)) {
          parentIncident.suppressed.add(name);
          note(parentIncident, now, name + " fails too, as a consequence (suppressed): " + s.last().message());
        }
        recordCheck(parentIncident, name, s, true);
        continue;
      }
      if (o.parents().stream().anyMatch(p -> states.containsKey(p) && !states.get(p).status().ok())) {
        continue; // a parent fails without an incident yet: wait for its incident (or its recovery) rather than page by itself
      }
      Incident recovery = o.group().startsWith(NODE) ? recentRecovery(now) : null;
      if (recovery != null) {
        // a host lost around an automatic recovery (its failover, its region's switch) is that recovery's root cause
        note(recovery, now, name + " " + s.describe() + ": " + s.last().message() + " (the root cause of this incident)");
        recordCheck(recovery, name, s, true);
        continue;
      }
      Incident i = openNew(o.group(), titleOf(name, s), now);
      recordCheck(i, name, s, true);
      // what the journal said just before the checks confirmed it (e.g. the supervisor saw the process die)
      for (Event e : recent) {
        if (Duration.between(e.at(), now).compareTo(RECENT) <= 0 && (groupOf(e).equals(i.key) || related(i, e))) {
          note(i, e.at(), "[" + e.kind() + "] " + e.message());
        }
      }
      note(i, now, name + " " + s.describe() + ": " + s.last().message());
      flagFlapping(i, name, s, now);
    }
  }

  private void flagFlapping(Incident i, String name, CheckState s, Instant now) {
    if (s.flapping() && !i.flapping) {
      i.flapping = true;
      note(i, now, name + " is flapping (" + Math.round(s.flapPercent()) + " % state changes over the last "
          + CheckState.FLAP_HISTORY + " checks): one incident until it settles");
      if (!i.title.startsWith("flapping: ")) i.title = "flapping: " + i.title;
    }
  }

  private void recordCheck(Incident i, String name, CheckState s, boolean problem) {
    String line = s.describe() + " - " + s.last().message();
    if (!line.equals(i.checks.get(name))) {
      i.checks.put(name, line);
      dirty = true;
    }
    if (problem || !s.status().ok() || s.flapping()) {
      i.lastProblemAt = max(i.lastProblemAt, clock.instant());
      dirty = true;
    }
  }

  private static String titleOf(String check, CheckState s) {
    return check + " " + s.status() + ": " + s.last().message();
  }

  private Incident openNew(String group, String cause, Instant at) {
    Incident i = new Incident();
    i.id = snap.nextId++;
    i.key = group;
    i.title = (group.startsWith(Groups.COMPONENT) || cause.startsWith(group) ? "" : group + ": ") + cause;
    i.openedAt = clock.instant();
    i.lastProblemAt = i.openedAt;
    i.runbook = Diagnosis.runbook(group);
    snap.incidents.add(i);
    openCount++;
    opened.inc();
    dirty = true;
    log.warn("incident {} opened: {}", i.ref(), i.title);
    events.record(INCIDENT_KIND, "incident " + i.ref() + " opened: " + i.title);
    return i;
  }

  private static final String NODE = Groups.NODE;
  /** How close in time a host's loss and an automatic recovery must be to count as one incident. */
  static final Duration HOST_LOSS_WINDOW = Duration.ofSeconds(30);

  /** The open incident a check already belongs to (it joined another group's incident), if any. */
  private Incident joinedIncident(String check) {
    for (Incident i : snap.incidents) if (i.open() && i.checks.containsKey(check) && !i.suppressed.contains(check)) return i;
    return null;
  }

  /**
   * Incidents opened shortly before a recovery of {@code into}'s group by checks that depend on that
   * group (API servers that lost the database a moment before its failover was recorded: in a
   * cluster the database's own check can lag behind what the API servers see) have the same root
   * cause: they become part of it, and are closed as merged (whoever was told is told where it went).
   */
  private void mergeDependents(Incident into, Instant now) {
    for (Incident i : List.copyOf(snap.incidents)) {
      if (i == into || !i.open() || Duration.between(i.openedAt, now).compareTo(HOST_LOSS_WINDOW) > 0) continue;
      boolean dependent = !i.checks.isEmpty() && i.checks.keySet().stream().allMatch(c -> {
        Observation o = observed.get(c);
        return o != null && o.parents().stream().map(observed::get).anyMatch(p -> p != null && p.group().equals(into.key));
      });
      if (!dependent) continue;
      for (Map.Entry<String, String> c : i.checks.entrySet()) {
        into.checks.put(c.getKey(), c.getValue());
        if (!into.suppressed.contains(c.getKey())) into.suppressed.add(c.getKey());
      }
      note(into, now, "incident " + i.ref() + " (" + i.title + ") has the same root cause: merged into this one");
      i.mergedInto = into.id;
      resolve(i, "merged into " + into.ref() + ", its root cause", "monitor");
    }
  }

  private Incident recentRecovery(Instant now) {
    for (Incident i : snap.incidents) {
      if (i.open() && i.byEvent && Duration.between(i.openedAt, now).compareTo(HOST_LOSS_WINDOW) <= 0) return i;
    }
    return null;
  }

  private Incident recentHostLoss(Instant now) {
    for (Incident i : snap.incidents) {
      if (i.open() && i.key.startsWith(NODE) && Duration.between(i.openedAt, now).compareTo(HOST_LOSS_WINDOW) <= 0) return i;
    }
    return null;
  }

  private Incident openIncident(String group) {
    if (group == null || group.isEmpty()) return null;
    for (Incident i : snap.incidents) if (i.open() && i.key.equals(group)) return i;
    return null;
  }

  private void resolveRecovered(Instant now) {
    for (Incident i : List.copyOf(snap.incidents)) {
      if (!i.open()) continue;
      boolean failing = false;
      boolean flapping = false;
      for (Map.Entry<String, CheckState> e : states.entrySet()) {
        boolean member = i.checks.containsKey(e.getKey()) && !i.suppressed.contains(e.getKey())
            || observed.get(e.getKey()).group().equals(i.key);
        if (!member) continue;
        if (!e.getValue().status().ok()) failing = true;
        if (e.getValue().flapping()) flapping = true;
      }
      if (failing || flapping) {
        i.lastProblemAt = now;
        continue;
      }
      if (i.flapping) {
        i.flapping = false;
        note(i, now, "no check of it is flapping any more");
      }
      if (Duration.between(i.lastProblemAt, now).compareTo(policy.monitor().resolveDelay()) >= 0) {
        resolve(i, "every check of it OK for " + policy.monitor().resolveDelay().toSeconds() + " s", "monitor");
      }
    }
  }

  private void resolve(Incident i, String why, String by) {
    Instant now = clock.instant();
    i.state = Incident.State.RESOLVED;
    i.resolvedAt = now;
    i.resolvedBy = by;
    note(i, now, "resolved: " + why);
    i.diagnosis = Diagnosis.of(i, states, observed, now);
    Set<String> told = new HashSet<>();
    for (Incident.Delivery d : List.copyOf(i.deliveries)) {
      if (d.kind == Incident.Delivery.Kind.OPENED && told.add(d.recipient)) {
        i.deliveries.add(new Incident.Delivery(d.step, Incident.Delivery.Kind.RESOLVED, d.recipient, now));
      }
    }
    openCount = (int) snap.incidents.stream().filter(Incident::open).count();
    dirty = true;
    log.info("incident {} resolved: {}", i.ref(), why);
    events.record(INCIDENT_KIND, "incident " + i.ref() + " resolved (" + why + "): " + i.title);
  }

  // ------------------------------------------------------------------ escalation and delivery

  void escalateAndDeliver() {
    load();
    Instant now = clock.instant();
    for (Incident i : snap.incidents) {
      if (i.state != Incident.State.OPEN) continue;
      for (int step = 0; step < policy.steps().size(); step++) {
        if (i.stepQueued(step)) continue;
        Instant due = i.openedAt.plus(policy.monitor().groupWaitDelay()).plus(policy.stepDelay(step));
        if (now.isBefore(due)) break;
        if (step > 0) note(i, now, "not acknowledged within " + human(policy.steps().get(step - 1).ackTimeoutDuration(step - 1))
            + ": escalating to step " + (step + 1) + " (" + String.join(", ", policy.steps().get(step).who()) + ")");
        for (String r : policy.recipientsOf(step)) i.deliveries.add(new Incident.Delivery(step, Incident.Delivery.Kind.OPENED, r, now));
        dirty = true;
      }
    }
    for (Incident i : snap.incidents) {
      for (Incident.Delivery d : i.deliveries) {
        if (d.sent || inFlight.contains(d) || d.due.isAfter(now)) continue;
        MonitorPolicy.Recipient r = policy.recipients().get(d.recipient);
        if (r == null) continue; // a recipient removed from the policy since
        Notifier n = notifiers.forRecipient(r);
        if (n == null) continue;
        if (d.kind == Incident.Delivery.Kind.OPENED) i.diagnosis = Diagnosis.of(i, states, observed, now);
        Notice notice = Notices.of(i, d, policy, deployment);
        inFlight.add(d);
        delivery.execute(() -> {
          String error = null;
          try {
            n.send(r, notice);
          } catch (IOException | RuntimeException e) {
            error = e.getMessage();
          }
          String err = error;
          loop.execute(() -> delivered(i, d, err));
        });
      }
    }
    if (dirty) save();
  }

  private void delivered(Incident i, Incident.Delivery d, String error) {
    inFlight.remove(d);
    Instant now = clock.instant();
    d.attempts++;
    if (error == null) {
      d.sent = true;
      d.sentAt = now;
      d.lastError = null;
      delivered.inc();
      note(i, now, "told " + d.recipient + " (step " + (d.step + 1) + ", " + d.kind.name().toLowerCase() + ")");
    } else {
      long backoff = Math.min(MAX_RETRY.toMillis(), MIN_RETRY.toMillis() << Math.min(16, d.attempts - 1));
      d.due = now.plusMillis(backoff);
      d.lastError = error;
      failedDeliveries.inc();
      log.warn("incident {}: notifying {} failed (attempt {}), retrying in {} ms: {}", i.ref(), d.recipient, d.attempts, backoff, error);
    }
    dirty = true;
    save();
  }

  // ------------------------------------------------------------------ helpers

  private void note(Incident i, String what) {
    note(i, clock.instant(), what);
  }

  private void note(Incident i, Instant at, String what) {
    i.timeline.add(TIME.format(at) + "  " + what);
    if (i.timeline.size() > 200) i.timeline.subList(0, i.timeline.size() - 200).clear();
    dirty = true;
  }

  private void save() {
    try {
      store.save(snap);
      dirty = false;
    } catch (IOException e) {
      log.error("cannot save the monitor's incidents to {}: {}", store.file(), e.toString());
    }
  }

  private static Instant max(Instant a, Instant b) {
    return a == null || b.isAfter(a) ? b : a;
  }

  static String human(Duration d) {
    if (d.toMillis() % 60_000 == 0) return d.toMinutes() + " min";
    if (d.toMillis() % 1000 == 0) return d.toSeconds() + " s";
    return d.toMillis() + " ms";
  }

  @Override
  public void close() {
    probes.shutdownNow();
    loop.shutdown();
    try {
      loop.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    delivery.shutdownNow();
  }
}
