package io.bulwark.gateway;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Result;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Active health checks: {@code GET <path>} on every server, asynchronously on the checks' own
 * {@link HttpClient}; each server's next check is scheduled when its last one ends, after the
 * normal interval while it is steadily up and after the fast interval otherwise.
 */
final class HealthChecker implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(HealthChecker.class);
  private static final String USER_AGENT = "bulwark-gateway-check";
  /**
   * The check at start may take longer than later ones: it is the HTTP client's first request (class
   * loading, first connections), and misjudging a healthy server DOWN at start would send traffic to
   * the backup for no reason.
   */
  static final Duration MIN_INITIAL_CHECK_TIMEOUT = Duration.ofSeconds(2);

  private final String gateway;
  private final HealthCheckConfig config;
  private final HttpClient client;
  private final ScheduledExecutorService timer;
  private volatile boolean closed;

  HealthChecker(String gateway, HealthCheckConfig config, HttpClient client, ScheduledExecutorService timer) {
    this.gateway = gateway;
    this.config = config;
    this.client = client;
    this.timer = timer;
  }

  /**
   * Checks every server once, all at the same time, and waits for the answers (at most the check
   * timeout, plus a little): a server that passes starts UP, one that fails starts DOWN.
   */
  void checkAllNow(List<Backend> backends) throws InterruptedException {
    List<CompletableFuture<Void>> all = new ArrayList<>();
    Duration timeout = initialTimeout();
    for (Backend b : backends) {
      CompletableFuture<Void> done = new CompletableFuture<>();
      check(b, timeout, (passed, outcome, nanos) -> {
        b.initialCheck(passed, outcome, nanos);
        done.complete(null);
      });
      all.add(done);
    }
    try {
      CompletableFuture.allOf(all.toArray(CompletableFuture[]::new))
          .get(timeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      log.warn("[{}] initial health checks did not all finish: {}", gateway, e.toString());
    }
  }

  /** Starts the periodic checks. */
  void start(List<Backend> backends) {
    for (Backend b : backends) schedule(b);
  }

  /** A server added while running: checked at once (passing makes it up), then periodically like the others. */
  void add(Backend b) {
    check(b, initialTimeout(), (passed, outcome, nanos) -> {
      b.initialCheck(passed, outcome, nanos);
      schedule(b);
    });
  }

  private void schedule(Backend b) {
    if (closed || b.retired()) return;
    try {
      timer.schedule(() -> check(b, config.timeout(), (passed, outcome, nanos) -> {
        b.checked(passed, outcome, nanos);
        schedule(b);
      }), b.nextCheckDelayMillis(), TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // closing
    }
  }

  Duration initialTimeout() {
    return config.timeout().compareTo(MIN_INITIAL_CHECK_TIMEOUT) > 0 ? config.timeout() : MIN_INITIAL_CHECK_TIMEOUT;
  }

  private void check(Backend b, Duration timeout, Outcome outcome) {
    if (closed) return;
    b.resolve(); // here, on the checks' thread: the proxy's event loops never wait for DNS
    long start = System.nanoTime();
    try {
      client.newRequest(b.host(), b.port())
          .path(config.path())
          .headers(h -> h.put("User-Agent", USER_AGENT))
          .timeout(timeout.toMillis(), TimeUnit.MILLISECONDS)
          .send((Result result) -> {
            long nanos = System.nanoTime() - start;
            if (result.isFailed()) {
              outcome.checked(false, describe(result.getFailure()), nanos);
            } else {
              int status = result.getResponse().getStatus();
              boolean passed = status >= 200 && status < 400;
              outcome.checked(passed, passed ? "passed" : "answered " + status, nanos);
            }
          });
    } catch (RuntimeException e) {
      // the client is stopping
      if (!closed) outcome.checked(false, describe(e), System.nanoTime() - start);
    }
  }

  private static String describe(Throwable t) {
    UpstreamFailure kind = UpstreamFailure.classify(t, false);
    return switch (kind) {
      case CONNECT -> "could not connect (" + UpstreamFailure.describe(t) + ")";
      case TIMEOUT -> "timed out";
      default -> "failed (" + UpstreamFailure.describe(t) + ")";
    };
  }

  @Override
  public void close() {
    closed = true;
  }

  @FunctionalInterface
  private interface Outcome {
    void checked(boolean passed, String outcome, long nanos);
  }
}
