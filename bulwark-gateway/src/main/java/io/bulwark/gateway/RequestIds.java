package io.bulwark.gateway;

import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/** {@code X-Request-Id}: the client's own if it is sane, else a new random UUID. */
final class RequestIds {
  static final int MAX_LENGTH = 128;

  private RequestIds() {}

  static String keepOrGenerate(String fromClient) {
    return acceptable(fromClient) ? fromClient : generate();
  }

  /** 1-128 visible ASCII characters: nothing that could forge a log line or a header. */
  static boolean acceptable(String id) {
    if (id == null || id.isEmpty() || id.length() > MAX_LENGTH) return false;
    for (int i = 0; i < id.length(); i++) {
      char c = id.charAt(i);
      if (c <= 0x20 || c >= 0x7f) return false;
    }
    return true;
  }

  /** A version 4 UUID from {@link ThreadLocalRandom}: unique enough for tracing, and no lock on a shared SecureRandom. */
  static String generate() {
    ThreadLocalRandom r = ThreadLocalRandom.current();
    long msb = (r.nextLong() & 0xffffffffffff0fffL) | 0x0000000000004000L;
    long lsb = (r.nextLong() & 0x3fffffffffffffffL) | 0x8000000000000000L;
    return new UUID(msb, lsb).toString();
  }
}
