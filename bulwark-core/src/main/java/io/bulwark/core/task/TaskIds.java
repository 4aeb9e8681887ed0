package io.bulwark.core.task;

import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Task ids are UUID version 7 (RFC 9562): a millisecond timestamp, then a 12-bit counter, then random
 * bits, so new rows land at the right edge of the primary-key index and ids sort by creation time,
 * which is what list paging ({@code after=}) relies on.
 *
 * <p>Within one process the ids are strictly increasing (RFC 9562 §6.2, method 1: the 12 bits after
 * the timestamp count within a millisecond; if 4096 ids are taken in one millisecond the timestamp
 * moves on early). With purely random bits there, two ids of the same millisecond sorted at random,
 * and a client paging with {@code after=} could skip a task created in the millisecond of its last
 * page. Across API servers, ids of the same millisecond still interleave at random.
 *
 * <p>The random bits come from {@link ThreadLocalRandom}, not {@code SecureRandom}: ids must be
 * unique, not secret (a task is reachable only with its tenant's key), and a shared synchronized
 * generator on the submit path is a contention point at thousands of requests per second.
 */
public final class TaskIds {
  /** The last (timestamp << 12 | counter) handed out by this process. */
  private static final AtomicLong LAST = new AtomicLong();

  private TaskIds() {}

  public static UUID newId() {
    long now = System.currentTimeMillis() << 12;
    long stamp = LAST.updateAndGet(last -> Math.max(now, last + 1));
    long msb = ((stamp >>> 12) << 16) | (0x7L << 12) | (stamp & 0xFFF);
    long lsb = (ThreadLocalRandom.current().nextLong() & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
    return new UUID(msb, lsb);
  }
}
