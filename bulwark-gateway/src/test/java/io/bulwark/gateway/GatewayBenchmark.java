package io.bulwark.gateway;

import io.bulwark.core.metrics.Metrics;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.StringRequestContent;

/**
 * Not a test: compares throughput and latency straight to a fake API server with the same through
 * the gateway. Run with the test class path:
 * {@code java -cp target/test-classes:target/classes:<deps> io.bulwark.gateway.GatewayBenchmark all [seconds] [concurrency] [rate]}
 * (all in one process), or in three processes (pin them with taskset to give the gateway its own core):
 * {@code ... GatewayBenchmark backend}, {@code ... GatewayBenchmark gateway <backend-url>},
 * {@code ... GatewayBenchmark load <backend-url> <gateway-url> <seconds> <concurrency> <rate>}.
 */
public final class GatewayBenchmark {
  static final AtomicInteger FAILURES_SHOWN = new AtomicInteger();

  public static void main(String[] args) throws Exception {
    String mode = args.length > 0 ? args[0] : "all";
    switch (mode) {
      case "backend" -> { // a fake API server until killed; prints its URL
        FakeBackend backend = FakeBackend.start("api-main");
        System.out.println(backend.url());
        Thread.currentThread().join();
      }
      case "gateway" -> { // a gateway in front of args[1] until killed; prints its URL
        FakeBackend backup = FakeBackend.start("api-backup");
        Gateway gateway = new Gateway(GatewayConfig.mainAndBackup("gw-bench", 0, 0, args[1], backup.url()), new Metrics());
        gateway.start();
        System.out.println("http://127.0.0.1:" + gateway.port());
        Thread.currentThread().join();
      }
      case "load" -> load(args[1], args[2], Integer.parseInt(args[3]), Integer.parseInt(args[4]), Integer.parseInt(args[5]));
      default -> { // everything in this process
        int seconds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        int concurrency = args.length > 2 ? Integer.parseInt(args[2]) : 32;
        int rate = args.length > 3 ? Integer.parseInt(args[3]) : 2000;
        FakeBackend backend = FakeBackend.start("api-main");
        FakeBackend backup = FakeBackend.start("api-backup");
        Gateway gateway = new Gateway(GatewayConfig.mainAndBackup("gw-bench", 0, 0, backend.url(), backup.url()), new Metrics());
        gateway.start();
        try {
          load(backend.url(), "http://127.0.0.1:" + gateway.port(), seconds, concurrency, rate);
        } finally {
          gateway.close();
          backend.close();
          backup.close();
        }
      }
    }
  }

  static void load(String direct, String proxied, int seconds, int concurrency, int rate) throws Exception {
    HttpClient client = new HttpClient();
    client.setMaxConnectionsPerDestination(concurrency * 2);
    client.start();
    String body = "{\"type\":\"echo\",\"input\":\"" + "x".repeat(1000) + "\"}";
    try {
      // warm up both paths (JIT, pools)
      closedLoop(client, direct, body, concurrency, 3);
      closedLoop(client, proxied, body, concurrency, 3);
      for (int round = 0; round < 2; round++) {
        Map<String, Long> cpu0 = cpuByGroup();
        long n0 = COMPLETED.get();
        double d = closedLoop(client, direct, body, concurrency, seconds);
        Map<String, Long> cpu1 = cpuByGroup();
        long n1 = COMPLETED.get();
        double g = closedLoop(client, proxied, body, concurrency, seconds);
        Map<String, Long> cpu2 = cpuByGroup();
        long n2 = COMPLETED.get();
        System.out.printf("throughput (closed loop, %d in flight): direct %.0f req/s, gateway %.0f req/s = %.0f%%%n", concurrency, d, g, 100 * g / d);
        System.out.println("  CPU us/request direct:  " + perRequest(cpu0, cpu1, n1 - n0));
        System.out.println("  CPU us/request gateway: " + perRequest(cpu1, cpu2, n2 - n1));
      }
      for (int round = 0; round < 2; round++) {
        long[] d = openLoop(client, direct, body, rate, seconds);
        long[] g = openLoop(client, proxied, body, rate, seconds);
        System.out.printf("latency at %d req/s: direct p50 %.2f p99 %.2f ms; gateway p50 %.2f p99 %.2f ms; added p99 %.2f ms%n", rate,
            pct(d, 50), pct(d, 99), pct(g, 50), pct(g, 99), pct(g, 99) - pct(d, 99));
      }
    } finally {
      client.stop();
    }
  }

  static final AtomicLong COMPLETED = new AtomicLong();

  /** CPU nanoseconds used so far by live threads, grouped by name: gw-bench-*, api-main-*, and the rest (the load client). */
  static Map<String, Long> cpuByGroup() {
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    Map<String, Long> out = new TreeMap<>();
    for (ThreadInfo t : mx.getThreadInfo(mx.getAllThreadIds())) {
      if (t == null) continue;
      long cpu = mx.getThreadCpuTime(t.getThreadId());
      if (cpu < 0) continue;
      String name = t.getThreadName();
      String group = name.startsWith("gw-bench") ? "gateway" : name.startsWith("api-main") ? "backend" : name.startsWith("api-backup") ? "backup" : "client";
      out.merge(group, cpu, Long::sum);
    }
    return out;
  }

  static String perRequest(Map<String, Long> before, Map<String, Long> after, long requests) {
    StringBuilder sb = new StringBuilder();
    for (var e : after.entrySet()) {
      long used = e.getValue() - before.getOrDefault(e.getKey(), 0L);
      if (used > 0) sb.append(String.format("%s %.1f  ", e.getKey(), used / 1000.0 / Math.max(1, requests)));
    }
    return sb.toString();
  }

  static Request request(HttpClient client, String base, String body, int n) {
    return n % 2 == 0
        ? client.newRequest(base + "/v1/tasks/t" + n)
        : client.newRequest(base + "/v1/tasks").method("POST").headers(h -> h.put("Idempotency-Key", "k" + n))
            .body(new StringRequestContent("application/json", body));
  }

  static double closedLoop(HttpClient client, String base, String body, int concurrency, int seconds) throws InterruptedException {
    long end = System.nanoTime() + seconds * 1_000_000_000L;
    AtomicLong done = new AtomicLong();
    AtomicInteger failures = new AtomicInteger();
    CountDownLatch finished = new CountDownLatch(concurrency);
    long start = System.nanoTime();
    for (int i = 0; i < concurrency; i++) {
      new Object() {
        int n;

        void next() {
          if (System.nanoTime() > end) {
            finished.countDown();
            return;
          }
          request(client, base, body, n++).send(result -> {
            if (result.isFailed() || result.getResponse().getStatus() != 200) failures.incrementAndGet();
            done.incrementAndGet();
            COMPLETED.incrementAndGet();
            next();
          });
        }
      }.next();
    }
    finished.await();
    double secs = (System.nanoTime() - start) / 1e9;
    if (failures.get() > 0) System.out.println("  failures: " + failures.get());
    return done.get() / secs;
  }

  static long[] openLoop(HttpClient client, String base, String body, int rate, int seconds) throws InterruptedException {
    int total = rate * seconds;
    AtomicLongArray latencies = new AtomicLongArray(total);
    CountDownLatch finished = new CountDownLatch(total);
    AtomicInteger sent = new AtomicInteger();
    ScheduledExecutorService pacer = Executors.newSingleThreadScheduledExecutor();
    long periodNanos = 1_000_000_000L / rate;
    pacer.scheduleAtFixedRate(() -> {
      int n = sent.getAndIncrement();
      if (n >= total) return;
      long t0 = System.nanoTime();
      request(client, base, body, n).send(result -> {
        if (result.isFailed() && FAILURES_SHOWN.getAndIncrement() < 3) System.out.println("  failed: " + result.getFailure());
        latencies.set(n, result.isFailed() ? Long.MAX_VALUE : System.nanoTime() - t0);
        finished.countDown();
      });
    }, 0, periodNanos, TimeUnit.NANOSECONDS);
    long t0 = System.nanoTime();
    boolean all = finished.await(seconds + 30L, TimeUnit.SECONDS);
    pacer.shutdownNow();
    System.out.printf("  open loop %s: all done=%s, waited %d ms after the pacer, failures so far %d%n", base, all,
        (System.nanoTime() - t0) / 1_000_000, FAILURES_SHOWN.get());
    long[] out = new long[total];
    for (int i = 0; i < total; i++) out[i] = latencies.get(i);
    Arrays.sort(out);
    return out;
  }

  static double pct(long[] sorted, double p) {
    return sorted[(int) Math.min(sorted.length - 1, Math.ceil(p / 100 * sorted.length) - 1)] / 1e6;
  }
}
