package io.bulwark.core;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Durations as Bulwark's flags and files write them: a whole number and a unit, 500ms, 3s, 10m, 24h, 7d. */
public final class Durations {
  private static final Pattern DURATION = Pattern.compile("(\\d+)(ms|s|m|h|d)");

  private Durations() {}

  /**
   * Parses {@code text}; {@code what} names the flag or key in the error, {@code examples} shows good
   * values (e.g. "3s or 24h").
   *
   * @throws IllegalArgumentException one line naming {@code what}, the units, the examples and the text
   */
  public static Duration parse(String what, String text, String examples) {
    Matcher m = DURATION.matcher(text.strip());
    if (!m.matches()) {
      throw new IllegalArgumentException(what + " must be a number with a unit (ms, s, m, h, d), e.g. " + examples + "; got '" + text + "'");
    }
    long n = Long.parseLong(m.group(1));
    return switch (m.group(2)) {
      case "ms" -> Duration.ofMillis(n);
      case "s" -> Duration.ofSeconds(n);
      case "m" -> Duration.ofMinutes(n);
      case "h" -> Duration.ofHours(n);
      default -> Duration.ofDays(n);
    };
  }
}
