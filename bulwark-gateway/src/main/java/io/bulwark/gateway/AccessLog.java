package io.bulwark.gateway;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One INFO line per client request on the logger {@value #LOGGER}:
 *
 * <pre>[gateway] GET /v1/tasks/t_1 200 backend=api-main retries=0 ms=1.234 id=5f0c...</pre>
 *
 * <p>Only the method, the path (no query string) and ids: never headers, so no credentials. Costs
 * one level check when the logger is off.
 *
 * <p>The request path only formats the line and queues it (lock-free, no thread is woken); a writer
 * thread hands the queued lines to the logger every {@value #FLUSH_MILLIS} ms, in the order they
 * were queued, then flushes stdout (where `bulwark up` sends them, unflushed per line). Waking a
 * logging thread for every request cost the proxy a context switch per request. So a line reaches the logger up to {@value #FLUSH_MILLIS} ms after its request ended
 * (its {@code ms=} is exact; a timestamp the logger adds may be that much late). If the writer falls
 * {@value #MAX_PENDING} lines behind, requests log their own lines (the queue stays bounded).
 * {@link #close()} writes what is left.
 */
final class AccessLog implements AutoCloseable {
  static final String LOGGER = "io.bulwark.gateway.access";
  static final long FLUSH_MILLIS = 10;
  static final int MAX_PENDING = 65_536;
  private static final Logger log = LoggerFactory.getLogger(LOGGER);

  private final String gateway;
  private final ConcurrentLinkedQueue<String> pending = new ConcurrentLinkedQueue<>();
  private final AtomicInteger size = new AtomicInteger();
  private final Thread writer;
  private volatile boolean closed;

  AccessLog(String gateway) {
    this.gateway = gateway;
    this.writer = Thread.ofPlatform().daemon().name(gateway + "-access-log").unstarted(this::writeUntilClosed);
  }

  /** Starts the writer thread; until then lines wait in the queue (or, past its bound, are logged at once). */
  void start() {
    writer.start();
  }

  void log(String method, String path, int status, String backend, int retries, long nanos, String requestId) {
    if (!log.isInfoEnabled()) return;
    StringBuilder line = new StringBuilder(128)
        .append('[').append(gateway).append("] ")
        .append(method).append(' ').append(path).append(' ').append(status)
        .append(" backend=").append(backend)
        .append(" retries=").append(retries)
        .append(" ms=");
    millis(line, nanos).append(" id=").append(requestId);
    String s = line.toString();
    if (closed || size.incrementAndGet() > MAX_PENDING) {
      if (!closed) size.decrementAndGet();
      log.info(s);
      return;
    }
    pending.add(s);
  }

  private void writeUntilClosed() {
    while (!closed) {
      drain();
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(FLUSH_MILLIS));
    }
    drain();
  }

  private void drain() {
    boolean wrote = false;
    for (String s; (s = pending.poll()) != null; ) {
      size.decrementAndGet();
      wrote = true;
      try {
        log.info(s);
      } catch (RuntimeException e) {
        // a broken appender must not stop the writer; logback reports its own errors
      }
    }
    // `bulwark up` writes the access log to the role's stdout without a flush per line (logback.xml):
    // flush once per batch, so a quiet gateway's last lines show up within FLUSH_MILLIS, not when a
    // buffer fills
    if (wrote) System.out.flush();
  }

  /** Writes the queued lines and stops the writer; later lines are logged by the requests themselves. */
  @Override
  public void close() {
    closed = true;
    if (writer.isAlive()) {
      LockSupport.unpark(writer);
      try {
        writer.join(1000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    drain();
  }

  /** Lines queued and not yet handed to the logger. */
  int pending() {
    return size.get();
  }

  /** Milliseconds with three decimals, without String.format. */
  static StringBuilder millis(StringBuilder out, long nanos) {
    long micros = Math.max(0, nanos / 1000);
    long frac = micros % 1000;
    out.append(micros / 1000).append('.');
    if (frac < 100) out.append('0');
    if (frac < 10) out.append('0');
    return out.append(frac);
  }
}
