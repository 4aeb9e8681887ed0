package io.bulwark.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.bulwark.cli.bench.ProcessCpu;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The bench's CPU accounting from /proc: what `bench --only topology` and the hostile suite divide by tasks. */
@ParallelSafe
class ProcessCpuTest {
  @Test
  void a_busy_process_is_charged_the_cpu_it_spent_and_a_gone_one_nothing() {
    long pid = ProcessHandle.current().pid();
    long before = ProcessCpu.micros(pid).orElseThrow();
    long t0 = System.nanoTime();
    long x = 0;
    while (System.nanoTime() - t0 < 300_000_000L) x += Long.numberOfTrailingZeros(x + t0); // 0.3 s on this thread
    long after = ProcessCpu.micros(pid).orElseThrow();
    assertThat(x).isNotNegative();
    // clock ticks of 10 ms; a busy machine may give this thread less than the wall time, never more than all threads
    assertThat(after - before).isBetween(100_000L, 10_000_000L);
    assertThat(ProcessCpu.micros(Long.MAX_VALUE)).isEmpty();
  }

  @Test
  void a_tree_is_summed_by_group_and_two_samples_subtract_group_by_group() {
    Map<String, Long> now = ProcessCpu.byGroup(ProcessHandle.current(), pid -> pid == ProcessHandle.current().pid() ? "me" : null);
    assertThat(now).containsKey("me");
    assertThat(now.get("me")).isPositive();
    assertThat(ProcessCpu.difference(Map.of("a", 10L, "gone", 5L), Map.of("a", 25L, "new", 7L)))
        .containsEntry("a", 15L).containsEntry("new", 7L).containsEntry("gone", -5L);
    assertThat(ProcessCpu.postgresGroup(ProcessHandle.current().pid())).as("a JVM is not PostgreSQL").isNull();
  }
}
