package io.bulwark.monitor;

import java.util.List;
import java.util.Locale;

/**
 * What one run of a check found: its state, one line for a person, and performance data in Nagios's
 * form ({@code label=value[UOM];warn;crit;min;max}).
 */
public record CheckResult(Status status, String message, List<String> perfdata) {
  public CheckResult {
    perfdata = List.copyOf(perfdata);
  }

  public static CheckResult of(Status s, String message, String... perf) {
    return new CheckResult(s, message, List.of(perf));
  }

  /** The plugin output line: {@code BULWARK NAME STATE - message | perfdata}. */
  public String line(String name) {
    return "BULWARK " + name.toUpperCase(Locale.ROOT) + " " + status + " - " + message
        + (perfdata.isEmpty() ? "" : " | " + String.join(" ", perfdata));
  }
}
