package io.bulwark.cluster.lease;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bulwark.cluster.lease.LeaderLease.Verdict;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class LeaderLeaseTest {
  static final long S = 1_000_000_000L;
  final LeaderLease lease = new LeaderLease(new LeaderLease.Config(Duration.ofSeconds(6), Duration.ofSeconds(1), Duration.ofSeconds(2)));

  @Test
  void a_lease_never_acquired_does_not_allow_leading() {
    assertThat(lease.verdict(0)).isEqualTo(Verdict.STEP_DOWN);
    assertThat(lease.remaining(0)).isZero();
  }

  @Test
  void an_acquired_lease_allows_leading_until_ttl_minus_margin_after_the_request_was_sent() {
    lease.acquired(10 * S);
    assertThat(lease.verdict(10 * S)).isEqualTo(Verdict.LEAD);
    assertThat(lease.verdict(14 * S - 1)).isEqualTo(Verdict.LEAD);
    assertThat(lease.remaining(13 * S)).isEqualTo(Duration.ofSeconds(1));
    assertThat(lease.verdict(14 * S)).as("4 s = ttl 6 s - margin 2 s after the send").isEqualTo(Verdict.STEP_DOWN);
  }

  @Test
  void each_confirmed_renewal_extends_leading_from_when_it_was_sent_not_when_it_was_answered() {
    lease.acquired(0);
    lease.renewed(3 * S); // sent at 3 s, answered much later: counts from 3 s
    assertThat(lease.verdict(7 * S - 1)).isEqualTo(Verdict.LEAD);
    assertThat(lease.verdict(7 * S)).isEqualTo(Verdict.STEP_DOWN);
  }

  @Test
  void a_late_answer_to_an_older_renewal_does_not_move_the_deadline_back() {
    lease.acquired(0);
    lease.renewed(3 * S);
    lease.renewed(2 * S); // the answer to an earlier request, arriving last
    assertThat(lease.verdict(6 * S)).isEqualTo(Verdict.LEAD);
  }

  @Test
  void an_unreachable_store_makes_the_leader_step_down_before_another_holder_can_acquire() {
    // the store expires the lease ttl after the last renewal it processed, which is no earlier than it was sent
    lease.acquired(0);
    lease.renewed(1 * S);
    long storeExpiresNoEarlierThan = 1 * S + 6 * S;
    long steppedDownAt = 1 * S + 4 * S;
    assertThat(lease.verdict(steppedDownAt)).isEqualTo(Verdict.STEP_DOWN);
    assertThat(storeExpiresNoEarlierThan - steppedDownAt).as("the margin: 2 s to stop writes").isEqualTo(2 * S);
  }

  @Test
  void a_lease_the_store_says_is_lost_stops_leading_at_once_and_a_renewal_cannot_revive_it() {
    lease.acquired(0);
    lease.lost();
    assertThat(lease.verdict(1)).isEqualTo(Verdict.STEP_DOWN);
    lease.renewed(2);
    assertThat(lease.verdict(3)).isEqualTo(Verdict.STEP_DOWN);
  }

  @Test
  void a_config_where_one_late_renewal_forces_a_step_down_is_refused_with_the_rule() {
    assertThatThrownBy(() -> new LeaderLease.Config(Duration.ofSeconds(3), Duration.ofSeconds(2), Duration.ofSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must be less than the ttl");
    assertThatThrownBy(() -> new LeaderLease.Config(Duration.ZERO, Duration.ofSeconds(1), Duration.ZERO))
        .hasMessageContaining("ttl must be positive");
  }
}
