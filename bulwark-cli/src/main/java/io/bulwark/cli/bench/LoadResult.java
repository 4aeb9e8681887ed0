package io.bulwark.cli.bench;

import java.util.Arrays;

/** Counts and latency percentiles of one load run. Latencies are in microseconds. */
public record LoadResult(long ok, long failed, double seconds, long[] latenciesMicros) {
  public double rate() {
    return ok / seconds;
  }

  public double percentileMillis(double p) {
    if (latenciesMicros.length == 0) return Double.NaN;
    long[] sorted = latenciesMicros.clone();
    Arrays.sort(sorted);
    int i = (int) Math.min(sorted.length - 1, Math.ceil(p / 100.0 * sorted.length) - 1);
    return sorted[Math.max(0, i)] / 1000.0;
  }

  public String summary() {
    return String.format("%,.0f req/s ok=%d failed=%d p50=%.2f ms p99=%.2f ms max=%.2f ms", rate(), ok, failed,
        percentileMillis(50), percentileMillis(99), percentileMillis(100));
  }
}
