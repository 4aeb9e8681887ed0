package io.bulwark.cli;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A steady open-loop client load for failover drills: {@code rate} requests per second in total, half
 * POST /v1/tasks with an Idempotency-Key, half GET of a task created earlier. Records every failure
 * (non-2xx or connection error) with its time, and the slowest request.
 */
final class SteadyLoad implements AutoCloseable {
  private static final Pattern ID = Pattern.compile("\"id\":\"([0-9a-f-]{36})\"");

  final AtomicLong ok = new AtomicLong();
  final List<String> failures = new CopyOnWriteArrayList<>();
  /** Requests sent again on a fresh connection after one that closed without a byte of answer. */
  final AtomicLong noAnswerRetries = new AtomicLong();
  final AtomicLong slowestNanos = new AtomicLong();
  private final List<String> ids = new CopyOnWriteArrayList<>();
  private final ConcurrentHashMap<Integer, AtomicLong> statuses = new ConcurrentHashMap<>();
  private final AtomicBoolean running = new AtomicBoolean(true);
  private final List<Thread> threads = new CopyOnWriteArrayList<>();

  SteadyLoad(String base, String key, int rate, int threadCount) {
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    long intervalNanos = 1_000_000_000L * threadCount / rate;
    for (int t = 0; t < threadCount; t++) {
      int offset = t;
      threads.add(Thread.ofPlatform().name("steady-load-" + t).start(() -> {
        long due = System.nanoTime() + intervalNanos * offset / threadCount;
        long n = 0;
        while (running.get()) {
          long wait = due - System.nanoTime();
          if (wait > 0) LockSupport.parkNanos(wait);
          due += intervalNanos;
          long t0 = System.nanoTime();
          boolean post = n++ % 2 == 0 || ids.isEmpty();
          try {
            HttpRequest.Builder b = post
                ? HttpRequest.newBuilder(URI.create(base + "/v1/tasks")).header("Idempotency-Key", UUID.randomUUID().toString())
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString("{\"type\":\"noop\"}"))
                : HttpRequest.newBuilder(URI.create(base + "/v1/tasks/" + ids.get((int) (n % ids.size())))).GET();
            HttpRequest request = b.header("Authorization", "Bearer " + key).timeout(Duration.ofSeconds(10)).build();
            HttpResponse<String> r;
            try {
              r = http.send(request, HttpResponse.BodyHandlers.ofString());
            } catch (java.io.IOException noAnswer) {
              // A keep-alive connection the proxy closed as this request was sent on it (after an error it
              // answered on that connection, say): not one byte came back, so nothing was answered. HTTP/1.1
              // clients retry such a request when it is idempotent (RFC 9112 9.3.1), and with its
              // Idempotency-Key a POST is: sent again, it creates the task at most once. Once, and counted.
              if (!String.valueOf(noAnswer.getMessage()).contains("received no bytes")) throw noAnswer;
              noAnswerRetries.incrementAndGet();
              r = http.send(request, HttpResponse.BodyHandlers.ofString());
            }
            statuses.computeIfAbsent(r.statusCode(), k -> new AtomicLong()).incrementAndGet();
            if (r.statusCode() / 100 == 2) {
              ok.incrementAndGet();
              if (post) {
                Matcher m = ID.matcher(r.body());
                if (m.find() && ids.size() < 1000) ids.add(m.group(1));
              }
            } else {
              failures.add(System.currentTimeMillis() + " " + (post ? "POST" : "GET") + " -> " + r.statusCode() + " " + r.body());
            }
          } catch (Exception e) {
            failures.add(System.currentTimeMillis() + " " + (post ? "POST" : "GET") + " -> " + e);
          }
          slowestNanos.accumulateAndGet(System.nanoTime() - t0, Math::max);
        }
      }));
    }
  }

  Duration slowest() {
    return Duration.ofNanos(slowestNanos.get());
  }

  @Override
  public void close() throws InterruptedException {
    running.set(false);
    for (Thread t : threads) t.join();
  }

  @Override
  public String toString() {
    return "ok=" + ok + " statuses=" + statuses + " failures=" + failures.size() + " resent-after-no-answer=" + noAnswerRetries
        + (failures.isEmpty() ? "" : " first: " + failures.get(0));
  }
}
