package io.bulwark.core.metrics;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.DoubleSupplier;

/**
 * A small, lock-free metrics registry that writes the Prometheus text exposition format (version
 * 0.0.4). Counters and histograms are {@link LongAdder}s so the hot path never contends; gauges are
 * read when scraped. Every metric gets the {@code bulwark_} prefix.
 */
public final class Metrics {
  private final Map<String, Family> families = new ConcurrentHashMap<>();
  private final List<String> order = new java.util.concurrent.CopyOnWriteArrayList<>();

  public Counter counter(String name, String help, String... labelPairs) {
    Family f = family(name, help, "counter");
    return (Counter) f.series.computeIfAbsent(labels(labelPairs), k -> new Counter());
  }

  public void gauge(String name, String help, DoubleSupplier value, String... labelPairs) {
    family(name, help, "gauge").series.put(labels(labelPairs), new Gauge(value));
  }

  /** A histogram with the given upper bounds, in seconds. */
  public Histogram histogram(String name, String help, double[] buckets, String... labelPairs) {
    Family f = family(name, help, "histogram");
    return (Histogram) f.series.computeIfAbsent(labels(labelPairs), k -> new Histogram(buckets));
  }

  /** Registers heap, thread and uptime gauges of this JVM. */
  public Metrics withJvmGauges() {
    var memory = java.lang.management.ManagementFactory.getMemoryMXBean();
    var threads = java.lang.management.ManagementFactory.getThreadMXBean();
    var runtime = java.lang.management.ManagementFactory.getRuntimeMXBean();
    gauge("jvm_heap_used_bytes", "Heap in use", () -> memory.getHeapMemoryUsage().getUsed());
    gauge("jvm_heap_max_bytes", "Largest heap this JVM may use (-Xmx)", () -> memory.getHeapMemoryUsage().getMax());
    gauge("jvm_threads", "Live platform threads", threads::getThreadCount);
    gauge("process_uptime_seconds", "Seconds since this process started", () -> runtime.getUptime() / 1000.0);
    return this;
  }

  /** Latency buckets from 0.5 ms to 10 s. */
  public static double[] latencyBuckets() {
    return new double[] {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  }

  private Family family(String name, String help, String type) {
    String full = "bulwark_" + name;
    Family f = families.computeIfAbsent(full, n -> {
      order.add(n);
      return new Family(n, help, type);
    });
    if (!f.type.equals(type)) {
      throw new IllegalArgumentException("metric " + full + " is a " + f.type + ", not a " + type);
    }
    return f;
  }

  private static String labels(String... pairs) {
    if (pairs.length % 2 != 0) throw new IllegalArgumentException("labels come in name/value pairs");
    if (pairs.length == 0) return "";
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < pairs.length; i += 2) {
      if (i > 0) sb.append(',');
      sb.append(pairs[i]).append("=\"").append(escape(pairs[i + 1])).append('"');
    }
    return sb.toString();
  }

  private static String escape(String v) {
    return v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
  }

  /** The whole registry in Prometheus text format. */
  public String scrape() {
    StringBuilder out = new StringBuilder(4096);
    for (String name : order) {
      Family f = families.get(name);
      out.append("# HELP ").append(name).append(' ').append(f.help).append('\n');
      out.append("# TYPE ").append(name).append(' ').append(f.type).append('\n');
      f.series.forEach((labels, series) -> series.write(out, name, labels));
    }
    return out.toString();
  }

  private record Family(String name, String help, String type, Map<String, Series> series) {
    Family(String name, String help, String type) {
      this(name, help, type, new ConcurrentHashMap<>());
    }
  }

  private interface Series {
    void write(StringBuilder out, String name, String labels);
  }

  private static void line(StringBuilder out, String name, String labels, double value) {
    out.append(name);
    if (!labels.isEmpty()) out.append('{').append(labels).append('}');
    out.append(' ');
    if (value == Math.rint(value) && Math.abs(value) < 1e15) out.append((long) value);
    else out.append(value);
    out.append('\n');
  }

  /** A monotonically increasing count. */
  public static final class Counter implements Series {
    private final LongAdder adder = new LongAdder();

    public void inc() {
      adder.increment();
    }

    public void add(long n) {
      adder.add(n);
    }

    public long get() {
      return adder.sum();
    }

    @Override
    public void write(StringBuilder out, String name, String labels) {
      line(out, name, labels, adder.sum());
    }
  }

  private record Gauge(DoubleSupplier value) implements Series {
    @Override
    public void write(StringBuilder out, String name, String labels) {
      double v;
      try {
        v = value.getAsDouble();
      } catch (RuntimeException e) {
        v = Double.NaN;
      }
      line(out, name, labels, v);
    }
  }

  /** Cumulative buckets of observed values (seconds), plus their count and sum. */
  public static final class Histogram implements Series {
    private final double[] bounds;
    private final LongAdder[] buckets;
    private final LongAdder count = new LongAdder();
    private final DoubleAdder sum = new DoubleAdder();

    Histogram(double[] bounds) {
      this.bounds = bounds.clone();
      this.buckets = new LongAdder[bounds.length];
      for (int i = 0; i < bounds.length; i++) buckets[i] = new LongAdder();
    }

    public void observeNanos(long nanos) {
      observe(nanos / 1e9);
    }

    public void observe(double seconds) {
      for (int i = 0; i < bounds.length; i++) {
        if (seconds <= bounds[i]) {
          buckets[i].increment();
          break;
        }
      }
      count.increment();
      sum.add(seconds);
    }

    public long count() {
      return count.sum();
    }

    @Override
    public void write(StringBuilder out, String name, String labels) {
      String sep = labels.isEmpty() ? "" : labels + ",";
      long cumulative = 0;
      List<String> lines = new ArrayList<>();
      for (int i = 0; i < bounds.length; i++) {
        cumulative += buckets[i].sum();
        lines.add(name + "_bucket{" + sep + "le=\"" + bounds[i] + "\"} " + cumulative);
      }
      long total = count.sum();
      lines.add(name + "_bucket{" + sep + "le=\"+Inf\"} " + total);
      for (String l : lines) out.append(l).append('\n');
      line(out, name + "_sum", labels, sum.sum());
      line(out, name + "_count", labels, total);
    }
  }
}
