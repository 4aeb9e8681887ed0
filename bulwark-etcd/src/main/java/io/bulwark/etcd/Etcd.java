package io.bulwark.etcd;

import io.bulwark.cluster.lease.LeaseStoreUnavailableException;
import io.etcd.jetcd.Client;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** How Bulwark talks to etcd: every endpoint (the client fails over between members), bounded waits. */
final class Etcd {
  private Etcd() {}

  static Client client(List<String> endpoints, Duration timeout) {
    if (endpoints.isEmpty()) throw new IllegalArgumentException("no etcd endpoint given; name at least one (http://host:2379)");
    return Client.builder().endpoints(endpoints.toArray(String[]::new))
        .connectTimeout(timeout)
        .keepaliveTime(Duration.ofSeconds(2))
        .keepaliveTimeout(timeout)
        .waitForReady(false) // fail fast when no member answers: the caller decides what no answer means
        .build();
  }

  /**
   * Runs {@code op} and returns its value, running it again while it fails because the member the
   * client talks to went away (the client moves to another member), until {@code timeout} has passed:
   * losing one member of three must not fail a call. Use it for operations that are safe to repeat.
   */
  static <T> T call(String what, java.util.function.Supplier<CompletableFuture<T>> op, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      long left = deadline - System.nanoTime();
      try {
        return await(what, op.get(), Duration.ofNanos(Math.max(left, 1_000_000)));
      } catch (LeaseStoreUnavailableException e) {
        if (!memberGone(e.getCause()) || deadline - System.nanoTime() < 100_000_000L) throw e;
        try {
          Thread.sleep(50); // the client reconnects to another member meanwhile
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw e;
        }
      }
    }
  }

  /** The connection to the member failed (it died, or was cut): another member may answer. */
  static boolean memberGone(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      String m = String.valueOf(t.getMessage());
      if (m.contains("UNAVAILABLE") || m.contains("channel closed") || m.contains("Connection refused")) return true;
    }
    return false;
  }

  /** The future's value within {@code timeout}; no answer in time, or an error, is {@link LeaseStoreUnavailableException}. */
  static <T> T await(String what, CompletableFuture<T> future, Duration timeout) {
    try {
      return future.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw unavailable(what, e.getCause(), timeout);
    } catch (TimeoutException e) {
      future.cancel(true);
      throw unavailable(what, e, timeout);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw unavailable(what, e, timeout);
    }
  }

  /** Whether etcd answered that the lease does not exist (expired or revoked): an answer, not an outage. */
  static boolean leaseNotFound(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (String.valueOf(t.getMessage()).contains("not found")) return true;
    }
    return false;
  }

  static LeaseStoreUnavailableException unavailable(String what, Throwable cause, Duration timeout) {
    String why = cause instanceof TimeoutException ? "no answer within " + timeout.toMillis() + " ms" : String.valueOf(cause.getMessage());
    return new LeaseStoreUnavailableException("etcd: cannot " + what + " (" + why + ")", cause);
  }
}
