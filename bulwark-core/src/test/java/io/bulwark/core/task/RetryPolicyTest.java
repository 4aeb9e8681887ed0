package io.bulwark.core.task;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bulwark.core.task.RetryPolicy.ExponentialBackoff;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class RetryPolicyTest {
  private static final int SAMPLES = 500;

  private static long expectedCeilingMs(ExponentialBackoff p, int attempt) {
    // d = min(cap, base * 2^(attempt-1)), computed without overflow
    double d = p.base().toMillis() * Math.pow(2, attempt - 1);
    return (long) Math.min(p.cap().toMillis(), d);
  }

  @Test
  void delays_stay_between_half_and_all_of_the_capped_exponential_delay() {
    ExponentialBackoff p = new ExponentialBackoff(Duration.ofMillis(100), Duration.ofSeconds(30));
    for (int attempt = 1; attempt <= 20; attempt++) {
      long d = expectedCeilingMs(p, attempt);
      for (int i = 0; i < SAMPLES; i++) {
        long got = p.delayAfter(attempt).toMillis();
        assertThat(got).as("attempt %d, d=%d ms", attempt, d).isBetween(d / 2, d);
      }
    }
  }

  @Test
  void the_first_retries_double_the_base_delay() {
    ExponentialBackoff p = new ExponentialBackoff(Duration.ofSeconds(1), Duration.ofHours(1));
    assertThat(expectedCeilingMs(p, 1)).isEqualTo(1000);
    for (int i = 0; i < SAMPLES; i++) {
      assertThat(p.delayAfter(1).toMillis()).isBetween(500L, 1000L);
      assertThat(p.delayAfter(2).toMillis()).isBetween(1000L, 2000L);
      assertThat(p.delayAfter(3).toMillis()).isBetween(2000L, 4000L);
    }
  }

  @Test
  void delays_are_jittered_rather_than_all_equal() {
    ExponentialBackoff p = ExponentialBackoff.defaults();
    Set<Duration> seen = new HashSet<>();
    for (int i = 0; i < 100; i++) seen.add(p.delayAfter(5));
    assertThat(seen).hasSizeGreaterThan(10);
  }

  @ParameterizedTest
  @ValueSource(ints = {11, 31, 32, 63, 64, 1000, Integer.MAX_VALUE})
  void the_cap_holds_for_huge_attempt_numbers(int attempt) {
    ExponentialBackoff p = ExponentialBackoff.defaults();
    long cap = p.cap().toMillis();
    for (int i = 0; i < SAMPLES; i++) {
      long got = p.delayAfter(attempt).toMillis();
      assertThat(got).isBetween(cap / 2, cap);
    }
  }

  @Test
  void the_cap_holds_for_a_large_base_with_a_huge_attempt_number() {
    ExponentialBackoff p = new ExponentialBackoff(Duration.ofDays(1), Duration.ofDays(7));
    long cap = p.cap().toMillis();
    for (int i = 0; i < SAMPLES; i++) {
      assertThat(p.delayAfter(Integer.MAX_VALUE).toMillis()).isBetween(cap / 2, cap);
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {0, -1, -1000})
  void attempt_numbers_below_one_are_treated_as_the_first_attempt(int attempt) {
    ExponentialBackoff p = new ExponentialBackoff(Duration.ofSeconds(2), Duration.ofMinutes(1));
    for (int i = 0; i < SAMPLES; i++) {
      assertThat(p.delayAfter(attempt).toMillis()).isBetween(1000L, 2000L);
    }
  }

  @Test
  void base_equal_to_cap_always_gives_between_half_and_the_cap() {
    ExponentialBackoff p = new ExponentialBackoff(Duration.ofSeconds(4), Duration.ofSeconds(4));
    for (int attempt = 1; attempt < 10; attempt++) {
      assertThat(p.delayAfter(attempt).toMillis()).isBetween(2000L, 4000L);
    }
  }

  @Test
  void defaults_are_one_second_base_and_ten_minute_cap() {
    assertThat(ExponentialBackoff.defaults())
        .isEqualTo(new ExponentialBackoff(Duration.ofSeconds(1), Duration.ofMinutes(10)));
  }

  @Test
  void constructor_rejects_a_zero_base_naming_milliseconds() {
    assertThatThrownBy(() -> new ExponentialBackoff(Duration.ZERO, Duration.ofSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("base")
        .hasMessageContaining("0 ms");
  }

  @Test
  void constructor_rejects_a_negative_base_naming_milliseconds() {
    assertThatThrownBy(() -> new ExponentialBackoff(Duration.ofMillis(-250), Duration.ofSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("base")
        .hasMessageContaining("-250 ms");
  }

  @Test
  void constructor_rejects_a_cap_below_the_base_naming_both_in_milliseconds() {
    assertThatThrownBy(() -> new ExponentialBackoff(Duration.ofSeconds(2), Duration.ofMillis(1500)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("cap")
        .hasMessageContaining("1500 ms")
        .hasMessageContaining("2000 ms");
  }

  @Test
  void a_base_under_one_millisecond_is_refused_because_it_would_never_back_off() {
    assertThatThrownBy(() -> new ExponentialBackoff(Duration.ofNanos(900_000), Duration.ofSeconds(1)))
        .hasMessageContaining("cannot be less than 1 ms");
  }

  @Test
  void extreme_attempts_and_bases_saturate_at_the_cap_instead_of_overflowing() {
    ExponentialBackoff huge = new ExponentialBackoff(Duration.ofDays(200), Duration.ofDays(400));
    assertThat(huge.delayAfter(40)).isBetween(Duration.ofDays(200), Duration.ofDays(400));
    ExponentialBackoff small = new ExponentialBackoff(Duration.ofMillis(100), Duration.ofSeconds(10));
    assertThat(small.delayAfter(Integer.MIN_VALUE)).isBetween(Duration.ofMillis(50), Duration.ofMillis(100));
  }
}
