package io.bulwark.cli;

import io.bulwark.core.BulwarkException;
import io.bulwark.core.Durations;
import java.time.Duration;
import picocli.CommandLine.ITypeConverter;

/** Durations as the commands take them: a whole number and a unit, 500ms, 3s, 10m, 24h, 7d. */
final class DurationConverter implements ITypeConverter<Duration> {
  @Override
  public Duration convert(String text) {
    return parse("the duration", text);
  }

  /** Parses {@code text}; {@code flag} names the option in the error. */
  static Duration parse(String flag, String text) {
    try {
      return Durations.parse(flag, text, "3s or 24h");
    } catch (IllegalArgumentException e) {
      throw new BulwarkException(e.getMessage());
    }
  }
}
