package io.bulwark.core.task;

import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Task ids are UUID version 7 (RFC 9562): a millisecond timestamp followed by random bits, so new
 * rows land at the right edge of the primary-key index and ids sort by creation time, which is what
 * list paging ({@code after=}) relies on.
 *
 * <p>The random bits come from {@link ThreadLocalRandom}, not {@code SecureRandom}: ids must be
 * unique, not secret (a task is reachable only with its tenant's key), and a shared synchronized
 * generator on the submit path is a contention point at thousands of requests per second.
 */
public final class TaskIds {
  private TaskIds() {}

  public static UUID newId() {
    long ms = System.currentTimeMillis();
    ThreadLocalRandom random = ThreadLocalRandom.current();
    long randA = random.nextInt(1 << 12);
    long msb = (ms << 16) | (0x7L << 12) | randA;
    long lsb = (random.nextLong() & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
    return new UUID(msb, lsb);
  }
}
