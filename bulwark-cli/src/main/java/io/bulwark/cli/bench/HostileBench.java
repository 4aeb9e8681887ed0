package io.bulwark.cli.bench;

import io.bulwark.core.BulwarkException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BiConsumer;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;

/**
 * The hostile-client suite: a victim tenant submits at a steady rate through the gateway while an
 * attacker (another tenant, or anyone who can reach the gateway) runs one attack at a time. For each
 * attack: the victim's errors and p99 against the same run without an attack, the victim's
 * acknowledged tasks that are not in the database (must be 0), how the attacker was answered (never
 * a 500), and the components that restarted (must be 0).
 */
public final class HostileBench {
  /** One attack: started before the victim's run, stopped after it; answers counted by status (-1: none). */
  public interface Attack {
    String name();

    String description();

    void run(AtomicBoolean stop, BiConsumer<Integer, Long> answered) throws Exception;
  }

  /** What the suite needs of the deployment under test. */
  /**
   * @param cpu CPU microseconds so far of the deployment's processes by component, and of the bench's
   *     own JVM (load generator, attacker, supervisor); see {@link ProcessCpu}
   */
  public record Target(String host, int gatewayPort, String victimKey, String attackerKey, String attackerTaskId,
      LongSupplier victimTasksInDatabase, IntSupplier restarts, StartLatency victimStartP99,
      java.util.function.Supplier<Map<String, Long>> cpu) {}

  /** The p99 of enqueue → start (database clock) of the victim's tasks created in a window, once they have all started. */
  public interface StartLatency {
    double p99Millis(java.time.Instant from, java.time.Instant to) throws Exception;
  }

  /** Start latency may grow by this much beyond 2× without missing the target: a baseline of a few ms is mostly noise. */
  static final double START_SLACK_MILLIS = 50;

  /** Where the attacker connects from: another client than the victim (127.0.0.1), as the gateway sees it. */
  static final String ATTACKER_ADDRESS = "127.0.0.66";

  private final Target target;
  private final double seconds;
  private final double victimRate;
  private final BiConsumer<String, String> report;

  public HostileBench(Target target, double seconds, double victimRate, BiConsumer<String, String> report) {
    this.target = target;
    this.seconds = seconds;
    this.victimRate = victimRate;
    this.report = report;
  }

  /** Runs the baseline, then each attack; fails at the end if any target was missed. */
  public void run(List<Attack> attacks) throws Exception {
    victim("warm-up"); // the JIT, the connections and the first base backup, before anything is measured
    Map<String, Long> cpuBefore = target.cpu().get();
    LoadResult baseline = victim("baseline");
    report.accept("hostile: baseline CPU by process", cpu(cpuBefore, target.cpu().get(), baseline.seconds()));
    double baselineStart = startP99;
    report.accept("hostile: baseline (no attack)", String.format("victim %s; enqueue → start p99 %.2f ms", baseline.summary(), baselineStart));
    List<String> missed = new ArrayList<>();
    for (Attack a : attacks) {
      Map<Integer, LongAdder> answers = new ConcurrentHashMap<>();
      AtomicBoolean stop = new AtomicBoolean();
      AtomicLong attackErrors = new AtomicLong();
      int restartsBefore = target.restarts().getAsInt();
      Thread attacker = Thread.ofPlatform().name("attack-" + a.name()).start(() -> {
        try {
          a.run(stop, (status, n) -> answers.computeIfAbsent(status, s -> new LongAdder()).add(n));
        } catch (Exception e) {
          attackErrors.incrementAndGet();
          System.out.println("   attack " + a.name() + " stopped: " + e);
        }
      });
      Thread.sleep(1000); // the attack is under way before the victim starts
      Map<String, Long> attackCpuBefore = target.cpu().get();
      LoadResult r = victim(a.name());
      String cpu = cpu(attackCpuBefore, target.cpu().get(), r.seconds());
      stop.set(true);
      attacker.join(90_000);
      int restarts = target.restarts().getAsInt() - restartsBefore;
      Map<Integer, Long> byStatus = new TreeMap<>();
      answers.forEach((s, n) -> byStatus.put(s, n.sum()));
      double ratio = r.percentileMillis(99) / Math.max(0.001, baseline.percentileMillis(99));
      long fiveHundreds = byStatus.entrySet().stream().filter(e -> e.getKey() >= 500 && e.getKey() != 503).mapToLong(Map.Entry::getValue).sum();
      boolean startOk = startP99 <= 2 * baselineStart + START_SLACK_MILLIS;
      boolean ok = r.failed() == 0 && lost == 0 && restarts == 0 && fiveHundreds == 0 && ratio <= 2.0 && startOk;
      if (!ok) missed.add(a.name());
      report.accept("hostile: " + a.name(), String.format("%s; victim submit p99 %.2f ms (%.2f× baseline), enqueue → start p99 %.2f ms,"
          + " errors %d, acknowledged lost %d; attacker answered %s; restarts %d%s", a.description(), r.percentileMillis(99), ratio,
          startP99, r.failed(), lost, describe(byStatus), restarts, ok ? "" : " — TARGET MISSED"));
      report.accept("hostile: " + a.name() + ", CPU by process", cpu);
    }
    if (!missed.isEmpty()) report.accept("hostile: targets missed", String.join(", ", missed));
  }

  private long lost;
  private double startP99;

  /** The victim's open-loop run; counts its acknowledged tasks missing from the database into {@link #lost}. */
  private LoadResult victim(String run) throws Exception {
    long before = target.victimTasksInDatabase().getAsLong();
    byte[] body = "{\"type\":\"noop\",\"input\":null}".getBytes(StandardCharsets.UTF_8);
    String tag = run + "-" + Long.toHexString(System.nanoTime());
    java.time.Instant from = java.time.Instant.now().minusSeconds(1);
    LoadResult r = new HttpLoad(target.host(), target.gatewayPort()).openLoop(16, seconds, victimRate,
        n -> HttpConnection.request("POST", "/v1/tasks", target.victimKey(), "Idempotency-Key: v" + tag + "-" + n + "\r\n", body));
    long stored = target.victimTasksInDatabase().getAsLong() - before;
    lost = Math.max(0, r.ok() - stored);
    startP99 = target.victimStartP99().p99Millis(from, java.time.Instant.now().plusSeconds(1));
    return r;
  }

  /** CPU spent between two samples as a share of one core, by process, largest first (those of at least 1 %). */
  static String cpu(Map<String, Long> before, Map<String, Long> after, double seconds) {
    List<Map.Entry<String, Long>> rows = new ArrayList<>(ProcessCpu.difference(before, after).entrySet());
    rows.sort(Map.Entry.<String, Long>comparingByValue().reversed());
    long total = rows.stream().mapToLong(Map.Entry::getValue).sum();
    List<String> parts = new ArrayList<>();
    for (Map.Entry<String, Long> e : rows) {
      double share = e.getValue() / (seconds * 1e6);
      if (share >= 0.01) parts.add(String.format("%s %.0f %%", e.getKey(), share * 100));
    }
    return String.format("%.0f %% of one core in all (2 cores = 200 %%): ", total / (seconds * 1e6) * 100) + String.join(", ", parts);
  }

  private static String describe(Map<Integer, Long> byStatus) {
    if (byStatus.isEmpty()) return "nothing";
    List<String> parts = new ArrayList<>();
    byStatus.forEach((s, n) -> parts.add((s < 0 ? "no answer" : Integer.toString(s)) + "×" + n));
    return String.join(", ", parts);
  }

  // ---------------------------------------------------------------- the attacks

  /** Connections that declare a 16 MiB body and send one byte, held open, 200 at once; no key needed. */
  public static Attack slowBodies(Target t) {
    return new Attack() {
      public String name() {
        return "declared-length";
      }

      public String description() {
        return "200 connections declaring a 16 MiB body and sending 1 byte, no key";
      }

      public void run(AtomicBoolean stop, BiConsumer<Integer, Long> answered) throws Exception {
        byte[] head = ("POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 16777216\r\n\r\n{")
            .getBytes(StandardCharsets.ISO_8859_1);
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
          threads.add(Thread.ofVirtual().start(() -> {
            while (!stop.get()) {
              try (HttpConnection c = new HttpConnection(t.host(), t.gatewayPort(), ATTACKER_ADDRESS)) {
                c.sendRaw(head);
                int status = -1;
                while (!stop.get() && status < 0) status = c.awaitStatus(500);
                if (status >= 0) answered.accept(status, 1L);
              } catch (IOException e) {
                answered.accept(-1, 1L);
                pause();
              }
            }
          }));
        }
        for (Thread th : threads) th.join();
      }
    };
  }

  /** One tenant sends 16 MiB JSON bodies of tiny objects, 4 at a time. */
  public static Attack hugeJson(Target t) {
    StringBuilder b = new StringBuilder(16 * 1024 * 1024).append("{\"type\":\"echo\",\"input\":[");
    while (b.length() < 16 * 1024 * 1024 - 64) b.append("{},");
    b.append("{}]}");
    byte[] body = b.toString().getBytes(StandardCharsets.UTF_8);
    return closedLoop("huge-json", "one tenant sending 16 MiB JSON bodies of {} objects, 4 at a time", t, 4,
        n -> HttpConnection.request("POST", "/v1/tasks", t.attackerKey(), "", body));
  }

  /** One tenant holds 2,100 long polls at once. */
  public static Attack longPolls(Target t) {
    return new Attack() {
      public String name() {
        return "long-polls";
      }

      public String description() {
        return "one tenant holding 2,100 long polls (?wait=60) at once";
      }

      public void run(AtomicBoolean stop, BiConsumer<Integer, Long> answered) throws Exception {
        byte[] poll = HttpConnection.request("GET", "/v1/tasks/" + t.attackerTaskId() + "?wait=60", t.attackerKey(), "", null);
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < 2100; i++) {
          threads.add(Thread.ofVirtual().start(() -> {
            while (!stop.get()) {
              try (HttpConnection c = new HttpConnection(t.host(), t.gatewayPort(), ATTACKER_ADDRESS)) {
                c.sendRaw(poll);
                int status = -1;
                while (!stop.get() && status < 0) status = c.awaitStatus(500);
                if (status >= 0) answered.accept(status, 1L);
                if (status == 429 || status == 503) pauseRetryAfter(c.retryAfterSeconds());
              } catch (IOException e) {
                answered.accept(-1, 1L);
                pause();
              }
            }
          }));
        }
        for (Thread th : threads) th.join();
      }
    };
  }

  /** One tenant floods its queue with top-priority tasks due in 1970, in batches of 1,000. */
  public static Attack priorityFlood(Target t) {
    StringBuilder b = new StringBuilder("{\"tasks\":[");
    for (int i = 0; i < 1000; i++) b.append(i == 0 ? "" : ",").append("{\"type\":\"noop\",\"priority\":1000,\"runAt\":\"1970-01-01T00:00:00Z\"}");
    byte[] body = b.append("]}").toString().getBytes(StandardCharsets.UTF_8);
    return closedLoop("priority-flood", "one tenant submitting batches of 1,000 tasks of priority 1000 due in 1970, 2 at a time", t, 2,
        n -> HttpConnection.request("POST", "/v1/tasks/batch", t.attackerKey(), "", body));
  }

  /** One tenant sends run times PostgreSQL cannot store, into the same group commits as the victim. */
  public static Attack badRunAt(Target t) {
    byte[][] bodies = {
        "{\"type\":\"noop\",\"runAt\":\"0000-01-01T00:00:00Z\"}".getBytes(StandardCharsets.UTF_8),
        "{\"type\":\"noop\",\"runAt\":\"+10000-01-01T00:00:00Z\"}".getBytes(StandardCharsets.UTF_8)};
    return closedLoop("bad-run-at", "one tenant submitting runAt 0000-01-01 and +10000-01-01, 8 at a time", t, 8,
        n -> HttpConnection.request("POST", "/v1/tasks", t.attackerKey(), "", bodies[(int) (n % 2)]));
  }

  /** One tenant submits 15 MiB binary inputs, all due now, for workers that read them. */
  public static Attack bigBinaries(Target t) {
    byte[] input = new byte[15 * 1024 * 1024];
    new java.util.Random(7).nextBytes(input);
    String head = "POST /v1/tasks?type=sha256 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + t.attackerKey()
        + "\r\nContent-Type: application/octet-stream\r\nContent-Length: " + input.length + "\r\n\r\n";
    byte[] h = head.getBytes(StandardCharsets.ISO_8859_1);
    byte[] request = new byte[h.length + input.length];
    System.arraycopy(h, 0, request, 0, h.length);
    System.arraycopy(input, 0, request, h.length, input.length);
    return closedLoop("big-binaries", "one tenant submitting 15 MiB binary inputs for the workers to hash, 4 at a time", t, 4, n -> request);
  }

  private static Attack closedLoop(String name, String description, Target t, int connections, java.util.function.LongFunction<byte[]> request) {
    return new Attack() {
      public String name() {
        return name;
      }

      public String description() {
        return description;
      }

      public void run(AtomicBoolean stop, BiConsumer<Integer, Long> answered) throws Exception {
        AtomicLong n = new AtomicLong();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < connections; i++) {
          threads.add(Thread.ofPlatform().start(() -> {
            HttpConnection c = null;
            while (!stop.get()) {
              try {
                if (c == null) c = new HttpConnection(t.host(), t.gatewayPort(), ATTACKER_ADDRESS);
                int status = c.send(request.apply(n.getAndIncrement()), null);
                answered.accept(status, 1L);
                int retryAfter = c.retryAfterSeconds();
                if (!c.reusable()) {
                  c.close();
                  c = null;
                }
                if (status == 429 || status == 503) pauseRetryAfter(retryAfter);
              } catch (IOException e) {
                answered.accept(-1, 1L);
                try {
                  if (c != null) c.close();
                } catch (IOException ignored) {
                  // reconnect
                }
                c = null;
                pause();
              }
            }
            try {
              if (c != null) c.close();
            } catch (IOException ignored) {
              // done
            }
          }));
        }
        for (Thread th : threads) th.join();
      }
    };
  }

  /**
   * After a refusal, the attacker comes back after the answer's Retry-After (1 s if it had none). Not
   * out of politeness: it runs on the same two cores as the system under test, and an attacker that
   * reconnects in a tight loop measures its own CPU taken from the servers, which a remote attacker's
   * would not be.
   */
  private static void pauseRetryAfter(int seconds) {
    try {
      Thread.sleep(1000L * Math.max(1, seconds)); // Retry-After
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BulwarkException("interrupted");
    }
  }

  private static void pause() {
    try {
      Thread.sleep(100); // an attacker's reconnect pace, not a wait for a condition
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BulwarkException("interrupted");
    }
  }
}
