package io.bulwark.dr;

import static org.assertj.core.api.Assertions.assertThat;

import io.bulwark.dr.MemberPolicy.Action;
import io.bulwark.dr.MemberPolicy.Local;
import io.bulwark.dr.MemberPolicy.View;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Every rule of a cluster database node, without a process, a store or a clock. */
class MemberPolicyTest {
  static final Local STANDBY = new Local(true, false);
  static final Local FORMER_PRIMARY = new Local(true, true);
  static final Local EMPTY = new Local(false, false);

  static View view(Optional<String> leader, boolean leading, Optional<String> sync, Optional<String> last, Local local) {
    return new View("a", leader, leading, sync, last, Optional.of("a"), local);
  }

  @Test
  void the_holder_of_the_lease_leads_and_one_named_by_a_key_it_does_not_hold_adopts_or_waits() {
    assertThat(MemberPolicy.decide(view(Optional.of("a"), true, Optional.empty(), Optional.of("a"), FORMER_PRIMARY)))
        .isInstanceOf(Action.Lead.class);
    assertThat(MemberPolicy.decide(view(Optional.of("a"), false, Optional.empty(), Optional.of("a"), FORMER_PRIMARY)))
        .isInstanceOf(Action.Adopt.class);
  }

  @Test
  void a_node_that_thinks_it_leads_but_the_key_says_otherwise_steps_down() {
    assertThat(MemberPolicy.decide(view(Optional.of("b"), true, Optional.empty(), Optional.of("b"), FORMER_PRIMARY)))
        .isInstanceOf(Action.StepDown.class);
    assertThat(MemberPolicy.decide(view(Optional.empty(), true, Optional.empty(), Optional.of("a"), FORMER_PRIMARY)))
        .isInstanceOf(Action.StepDown.class);
  }

  @Test
  void with_a_leader_a_standby_follows_it_and_an_empty_node_or_a_former_primary_is_seeded_from_the_archive() {
    assertThat(MemberPolicy.decide(view(Optional.of("b"), false, Optional.of("a"), Optional.of("b"), STANDBY)))
        .isEqualTo(new Action.Follow("b"));
    assertThat(MemberPolicy.decide(view(Optional.of("b"), false, Optional.empty(), Optional.of("b"), EMPTY)))
        .isInstanceOf(Action.Seed.class);
    Action diverged = MemberPolicy.decide(view(Optional.of("b"), false, Optional.empty(), Optional.of("b"), FORMER_PRIMARY));
    assertThat(diverged).isInstanceOf(Action.Seed.class);
    assertThat(((Action.Seed) diverged).why()).contains("diverged");
  }

  @Test
  void with_no_leader_only_the_synchronous_standby_or_the_intact_last_leader_may_take_over() {
    assertThat(MemberPolicy.decide(view(Optional.empty(), false, Optional.of("a"), Optional.of("b"), STANDBY)))
        .isInstanceOf(Action.TakeOver.class);
    assertThat(MemberPolicy.decide(view(Optional.empty(), false, Optional.empty(), Optional.of("a"), FORMER_PRIMARY)))
        .isInstanceOf(Action.TakeOver.class);
    // an asynchronous standby could lack acknowledged commits: it waits, and says for whom
    Action async = MemberPolicy.decide(view(Optional.empty(), false, Optional.empty(), Optional.of("b"), STANDBY));
    assertThat(async).isInstanceOf(Action.Wait.class);
    assertThat(((Action.Wait) async).why()).contains("b (the last leader)").contains("could lose acknowledged commits");
    // another node is the synchronous one
    assertThat(MemberPolicy.decide(view(Optional.empty(), false, Optional.of("c"), Optional.of("b"), STANDBY)))
        .isInstanceOf(Action.Wait.class);
    // named last leader, but its data was rebuilt as a standby since: not intact as a primary
    assertThat(MemberPolicy.decide(view(Optional.empty(), false, Optional.empty(), Optional.of("a"), STANDBY)))
        .isInstanceOf(Action.Wait.class);
    // nothing to offer
    assertThat(MemberPolicy.decide(view(Optional.empty(), false, Optional.of("a"), Optional.of("a"), EMPTY)))
        .isInstanceOf(Action.Wait.class);
  }

  @Test
  void a_cluster_nobody_initialized_is_bootstrapped_by_whoever_claims_it() {
    View fresh = new View("a", Optional.empty(), false, Optional.empty(), Optional.empty(), Optional.empty(), EMPTY);
    assertThat(MemberPolicy.decide(fresh)).isInstanceOf(Action.Bootstrap.class);
  }
}
