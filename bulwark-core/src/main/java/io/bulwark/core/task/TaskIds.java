package io.bulwark.core.task;

import java.security.SecureRandom;
import java.util.UUID;

/**
 * Task ids are UUID version 7 (RFC 9562): a millisecond timestamp followed by random bits, so new
 * rows land at the right edge of the primary-key index and ids sort by creation time, which is what
 * list paging ({@code after=}) relies on.
 */
public final class TaskIds {
  private static final SecureRandom RANDOM = new SecureRandom();

  private TaskIds() {}

  public static UUID newId() {
    long ms = System.currentTimeMillis();
    long randA = RANDOM.nextInt(1 << 12);
    long msb = (ms << 16) | (0x7L << 12) | randA;
    long lsb = (RANDOM.nextLong() & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
    return new UUID(msb, lsb);
  }
}
