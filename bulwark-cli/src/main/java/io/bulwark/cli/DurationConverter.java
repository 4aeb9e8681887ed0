package io.bulwark.cli;

import io.bulwark.core.BulwarkException;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.ITypeConverter;

/** Durations as the commands take them: a whole number and a unit, 500ms, 3s, 10m, 24h, 7d. */
final class DurationConverter implements ITypeConverter<Duration> {
  private static final Pattern DURATION = Pattern.compile("(\\d+)(ms|s|m|h|d)");

  @Override
  public Duration convert(String text) {
    return parse("the duration", text);
  }

  /** Parses {@code text}; {@code flag} names the option in the error. */
  static Duration parse(String flag, String text) {
    Matcher m = DURATION.matcher(text.strip());
    if (!m.matches()) {
      throw new BulwarkException(flag + " must be a number with a unit (ms, s, m, h, d), e.g. 3s or 24h; got '" + text + "'");
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
