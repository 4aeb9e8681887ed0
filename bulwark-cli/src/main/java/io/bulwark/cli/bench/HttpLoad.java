package io.bulwark.cli.bench;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongFunction;

/**
 * Drives HTTP load over keep-alive connections, one platform thread each. Closed loop: every
 * connection sends as fast as answers come back. Open loop: requests are due at a fixed total rate,
 * and each latency is measured from when its request was due, not when it was sent, so a stalled
 * server is not hidden by the load generator slowing down with it (no coordinated omission).
 */
public final class HttpLoad {
  private final String host;
  private final int port;

  public HttpLoad(String host, int port) {
    this.host = host;
    this.port = port;
  }

  /** {@code request} makes the n-th request's bytes; a response of 2xx counts as ok. */
  public LoadResult closedLoop(int connections, double seconds, LongFunction<byte[]> request) throws InterruptedException {
    return run(connections, seconds, 0, request);
  }

  public LoadResult openLoop(int connections, double seconds, double ratePerSecond, LongFunction<byte[]> request)
      throws InterruptedException {
    return run(connections, seconds, ratePerSecond, request);
  }

  private LoadResult run(int connections, double seconds, double rate, LongFunction<byte[]> request)
      throws InterruptedException {
    AtomicLong counter = new AtomicLong();
    AtomicLong ok = new AtomicLong();
    AtomicLong failed = new AtomicLong();
    List<long[]> latencies = new ArrayList<>();
    List<Thread> threads = new ArrayList<>();
    long start = System.nanoTime();
    long end = start + (long) (seconds * 1e9);
    for (int c = 0; c < connections; c++) {
      long[] lat = new long[(int) Math.min(20_000_000, Math.max(1024, (rate > 0 ? rate : 20_000) * seconds / connections * 2))];
      latencies.add(lat);
      final int conn = c;
      threads.add(Thread.ofPlatform().name("load-" + c).start(() -> {
        int n = 0;
        HttpConnection http = null;
        long interval = rate > 0 ? (long) (1e9 * connections / rate) : 0;
        long due = start + (rate > 0 ? (long) (interval * conn / (double) connections) : 0);
        while (true) {
          long now = System.nanoTime();
          if (rate > 0) {
            if (due >= end) break;
            while (now < due) {
              java.util.concurrent.locks.LockSupport.parkNanos(due - now);
              now = System.nanoTime();
            }
          } else if (now >= end) {
            break;
          }
          long t0 = rate > 0 ? due : now;
          try {
            if (http == null) http = new HttpConnection(host, port);
            int status = http.exchange(request.apply(counter.getAndIncrement()), null);
            if (status / 100 == 2) ok.incrementAndGet();
            else failed.incrementAndGet();
          } catch (IOException e) {
            failed.incrementAndGet();
            try {
              if (http != null) http.close();
            } catch (IOException ignored) {
              // reconnect next time
            }
            http = null;
          }
          if (n < lat.length - 1) lat[n++] = (System.nanoTime() - t0) / 1000;
          due += interval;
        }
        lat[lat.length - 1] = -n; // stash the count in the last slot
        try {
          if (http != null) http.close();
        } catch (IOException ignored) {
          // done
        }
      }));
    }
    for (Thread t : threads) t.join();
    double elapsed = (System.nanoTime() - start) / 1e9;
    int total = 0;
    for (long[] l : latencies) total += (int) -l[l.length - 1];
    long[] all = new long[total];
    int i = 0;
    for (long[] l : latencies) {
      int n = (int) -l[l.length - 1];
      System.arraycopy(l, 0, all, i, n);
      i += n;
    }
    return new LoadResult(ok.get(), failed.get(), elapsed, all);
  }
}
