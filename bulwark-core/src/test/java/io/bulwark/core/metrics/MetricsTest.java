package io.bulwark.core.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class MetricsTest {

  private static List<String> lines(Metrics m) {
    return m.scrape().lines().toList();
  }

  @Test
  void every_family_starts_with_help_and_type_lines_and_gets_the_bulwark_prefix() {
    Metrics m = new Metrics();
    m.counter("tasks_claimed_total", "Tasks claimed by this worker").inc();
    m.gauge("queue_ready", "Tasks ready to run", () -> 7);
    m.histogram("claim_seconds", "Claim latency", new double[] {0.1, 1});

    assertThat(lines(m)).containsSubsequence(
        "# HELP bulwark_tasks_claimed_total Tasks claimed by this worker",
        "# TYPE bulwark_tasks_claimed_total counter",
        "bulwark_tasks_claimed_total 1",
        "# HELP bulwark_queue_ready Tasks ready to run",
        "# TYPE bulwark_queue_ready gauge",
        "bulwark_queue_ready 7",
        "# HELP bulwark_claim_seconds Claim latency",
        "# TYPE bulwark_claim_seconds histogram");
  }

  @Test
  void counters_report_their_sums_and_the_same_name_returns_the_same_counter() {
    Metrics m = new Metrics();
    Metrics.Counter c = m.counter("requests_total", "Requests");
    c.inc();
    c.add(41);
    assertThat(m.counter("requests_total", "Requests")).isSameAs(c);
    assertThat(c.get()).isEqualTo(42);
    assertThat(lines(m)).contains("bulwark_requests_total 42");
  }

  @Test
  void concurrent_increments_are_not_lost() throws Exception {
    Metrics m = new Metrics();
    Metrics.Counter c = m.counter("hits_total", "Hits");
    try (ExecutorService pool = Executors.newFixedThreadPool(4)) {
      for (int t = 0; t < 4; t++) pool.submit(() -> { for (int i = 0; i < 10_000; i++) c.inc(); });
      pool.shutdown();
      assertThat(pool.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
    }
    assertThat(c.get()).isEqualTo(40_000);
    assertThat(lines(m)).contains("bulwark_hits_total 40000");
  }

  @Test
  void labelled_series_share_one_help_and_type_header() {
    Metrics m = new Metrics();
    m.counter("http_requests_total", "HTTP requests", "method", "GET", "status", "200").add(3);
    m.counter("http_requests_total", "HTTP requests", "method", "POST", "status", "201").add(2);

    List<String> lines = lines(m);
    assertThat(lines).contains(
        "bulwark_http_requests_total{method=\"GET\",status=\"200\"} 3",
        "bulwark_http_requests_total{method=\"POST\",status=\"201\"} 2");
    assertThat(lines.stream().filter(l -> l.startsWith("# HELP bulwark_http_requests_total"))).hasSize(1);
    assertThat(lines.stream().filter(l -> l.startsWith("# TYPE bulwark_http_requests_total"))).hasSize(1);
  }

  @Test
  void label_values_are_escaped() {
    Metrics m = new Metrics();
    m.counter("odd_total", "Odd labels", "path", "a\"b\\c\nd").inc();
    assertThat(lines(m)).contains("bulwark_odd_total{path=\"a\\\"b\\\\c\\nd\"} 1");
  }

  @Test
  void labels_must_come_in_pairs() {
    Metrics m = new Metrics();
    assertThatThrownBy(() -> m.counter("x_total", "X", "lonely"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("pairs");
  }

  @Test
  void a_name_cannot_be_reused_for_another_metric_type() {
    Metrics m = new Metrics();
    m.counter("things", "Things");
    assertThatThrownBy(() -> m.gauge("things", "Things", () -> 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("bulwark_things")
        .hasMessageContaining("counter")
        .hasMessageContaining("gauge");
  }

  @Test
  void gauges_are_read_at_scrape_time_and_a_failing_gauge_reports_nan() {
    Metrics m = new Metrics();
    int[] value = {1};
    m.gauge("live", "Live value", () -> value[0]);
    m.gauge("ratio", "Fractional value", () -> 0.25);
    m.gauge("broken", "Throws", () -> { throw new IllegalStateException("boom"); });
    assertThat(lines(m)).contains("bulwark_live 1", "bulwark_ratio 0.25", "bulwark_broken NaN");
    value[0] = 5;
    assertThat(lines(m)).contains("bulwark_live 5");
  }

  @Test
  void histogram_buckets_are_cumulative_and_end_in_plus_inf_with_sum_and_count() {
    Metrics m = new Metrics();
    Metrics.Histogram h = m.histogram("job_seconds", "Job time", new double[] {0.1, 0.5, 1.0}, "queue", "q1");
    h.observe(0.05); // <= 0.1
    h.observe(0.1); // <= 0.1 (bounds are inclusive)
    h.observe(0.3); // <= 0.5
    h.observe(0.75); // <= 1.0
    h.observe(3.0); // only +Inf
    h.observeNanos(2_000_000_000L); // 2 s: only +Inf

    List<String> lines = lines(m);
    assertThat(lines).containsSubsequence(
        "# TYPE bulwark_job_seconds histogram",
        "bulwark_job_seconds_bucket{queue=\"q1\",le=\"0.1\"} 2",
        "bulwark_job_seconds_bucket{queue=\"q1\",le=\"0.5\"} 3",
        "bulwark_job_seconds_bucket{queue=\"q1\",le=\"1.0\"} 4",
        "bulwark_job_seconds_bucket{queue=\"q1\",le=\"+Inf\"} 6",
        "bulwark_job_seconds_sum{queue=\"q1\"} 6.2",
        "bulwark_job_seconds_count{queue=\"q1\"} 6");
    assertThat(h.count()).isEqualTo(6);
  }

  @Test
  void an_unlabelled_histogram_has_only_the_le_label() {
    Metrics m = new Metrics();
    Metrics.Histogram h = m.histogram("wait_seconds", "Wait", Metrics.latencyBuckets());
    h.observe(0.0007);
    h.observe(20);

    List<String> lines = lines(m);
    assertThat(lines).contains(
        "bulwark_wait_seconds_bucket{le=\"5.0E-4\"} 0",
        "bulwark_wait_seconds_bucket{le=\"0.001\"} 1",
        "bulwark_wait_seconds_bucket{le=\"10.0\"} 1",
        "bulwark_wait_seconds_bucket{le=\"+Inf\"} 2",
        "bulwark_wait_seconds_count 2");
    assertThat(lines).anyMatch(l -> l.startsWith("bulwark_wait_seconds_sum 20.0007"));
    // buckets never decrease, and the last one is +Inf
    List<Long> counts = lines.stream().filter(l -> l.startsWith("bulwark_wait_seconds_bucket"))
        .map(l -> Long.parseLong(l.substring(l.lastIndexOf(' ') + 1))).toList();
    assertThat(counts).hasSize(Metrics.latencyBuckets().length + 1).isSorted();
    assertThat(lines.stream().filter(l -> l.startsWith("bulwark_wait_seconds_bucket")).toList().getLast())
        .contains("le=\"+Inf\"");
  }

  @Test
  void an_empty_histogram_reports_zeros() {
    Metrics m = new Metrics();
    m.histogram("idle_seconds", "Idle", new double[] {1});
    assertThat(lines(m)).contains(
        "bulwark_idle_seconds_bucket{le=\"1.0\"} 0",
        "bulwark_idle_seconds_bucket{le=\"+Inf\"} 0",
        "bulwark_idle_seconds_sum 0",
        "bulwark_idle_seconds_count 0");
  }

  @Test
  void jvm_gauges_are_registered() {
    String text = new Metrics().withJvmGauges().scrape();
    assertThat(text).contains("# TYPE bulwark_jvm_heap_used_bytes gauge", "# TYPE bulwark_jvm_threads gauge",
        "# TYPE bulwark_process_uptime_seconds gauge", "# TYPE bulwark_jvm_heap_max_bytes gauge");
  }

  @Test
  void families_appear_in_registration_order() {
    Metrics m = new Metrics();
    m.counter("b_total", "B");
    m.counter("a_total", "A");
    m.counter("c_total", "C");
    assertThat(lines(m).stream().filter(l -> l.startsWith("# TYPE")))
        .containsExactly("# TYPE bulwark_b_total counter", "# TYPE bulwark_a_total counter",
            "# TYPE bulwark_c_total counter");
  }
}
