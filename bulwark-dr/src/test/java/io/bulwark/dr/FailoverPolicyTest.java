package io.bulwark.dr;

import static org.assertj.core.api.Assertions.assertThat;

import io.bulwark.dr.FailoverPolicy.Mode;
import io.bulwark.dr.FailoverPolicy.Sample;
import io.bulwark.dr.FailoverPolicy.Standby;
import io.bulwark.dr.FailoverPolicy.Switch;
import io.bulwark.dr.FailoverPolicy.Transition;
import io.bulwark.dr.FailoverPolicy.Verdict;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** Every rule of the failover controller, without PostgreSQL, processes or time. */
class FailoverPolicyTest {
  static final long MIB = 1 << 20;

  static Lsn lsn(long v) {
    return new Lsn(v);
  }

  static Sample streaming(String syncState, long flush, long current) {
    return new Sample("streaming", syncState, lsn(flush), lsn(current));
  }

  static Transition sync(Mode mode, Sample s) {
    return FailoverPolicy.replication(true, MIB, mode, s, "pg-b");
  }

  @Nested
  class Synchronous_replication {
    @Test
    void a_streaming_standby_is_made_synchronous_but_not_yet_eligible() {
      Transition t = sync(Mode.ASYNCHRONOUS, streaming("async", 900, 1000));
      assertThat(t.change()).isEqualTo(Switch.TO_SYNCHRONOUS);
      assertThat(t.next()).isEqualTo(new Mode(true, false, lsn(1000)));
      assertThat(t.event()).isEqualTo("replication synchronous: pg-b is streaming");
    }

    @Test
    void it_becomes_eligible_only_once_sync_and_flushed_past_where_sync_was_turned_on() {
      Mode on = new Mode(true, false, lsn(1000));
      assertThat(sync(on, streaming("async", 2000, 2000)).next().eligible()).as("not yet sync").isFalse();
      assertThat(sync(on, streaming("sync", 999, 2000)).next().eligible()).as("commits before 1000 may be missing").isFalse();
      Transition t = sync(on, streaming("sync", 1000, 2000));
      assertThat(t.next()).isEqualTo(new Mode(true, true, lsn(1000)));
      assertThat(t.change()).isEqualTo(Switch.NONE);
      assertThat(t.event()).isEqualTo("pg-b is synchronous and caught up: eligible for failover");
    }

    @Test
    void a_standby_that_stops_streaming_is_made_ineligible_and_writes_stop_waiting_for_it() {
      Mode eligible = new Mode(true, true, lsn(1000));
      for (Sample gone : new Sample[] {new Sample(null, null, null, lsn(5000)), new Sample("catchup", "sync", lsn(10), lsn(5000))}) {
        Transition t = sync(eligible, gone);
        assertThat(t.change()).isEqualTo(Switch.TO_ASYNCHRONOUS);
        assertThat(t.next()).isEqualTo(Mode.ASYNCHRONOUS);
        assertThat(t.event()).startsWith("replication asynchronous: pg-b is ").endsWith("(writes no longer wait for it)");
      }
    }

    @Test
    void a_steady_state_changes_nothing_and_records_nothing() {
      Mode eligible = new Mode(true, true, lsn(1000));
      assertThat(sync(eligible, streaming("sync", 3000, 3000))).isEqualTo(new Transition(eligible, Switch.NONE, null));
      assertThat(sync(Mode.ASYNCHRONOUS, new Sample(null, null, null, lsn(1)))).isEqualTo(new Transition(Mode.ASYNCHRONOUS, Switch.NONE, null));
    }
  }

  @Nested
  class Asynchronous_replication {
    @Test
    void a_standby_is_eligible_while_it_streams_within_the_maximum_lag() {
      assertThat(FailoverPolicy.replication(false, MIB, Mode.ASYNCHRONOUS, streaming("async", 1000, 1000 + MIB), "pg-b").next().eligible()).isTrue();
      assertThat(FailoverPolicy.replication(false, MIB, Mode.ASYNCHRONOUS, streaming("async", 1000, 1001 + MIB), "pg-b").next().eligible()).isFalse();
      assertThat(FailoverPolicy.replication(false, MIB, Mode.ASYNCHRONOUS, new Sample(null, null, null, lsn(1)), "pg-b").next().eligible()).isFalse();
    }

    @Test
    void the_primary_never_names_a_synchronous_standby() {
      assertThat(FailoverPolicy.replication(false, MIB, Mode.ASYNCHRONOUS, streaming("async", 1, 1), "pg-b").change()).isEqualTo(Switch.NONE);
    }
  }

  @Nested
  class Primary_failure {
    final Standby ready = new Standby(false, true, true);

    @Test
    void a_passing_check_is_healthy() {
      assertThat(FailoverPolicy.primary(true, true, 3, 4, ready)).isEqualTo(new Verdict.Healthy());
    }

    @Test
    void failed_checks_are_counted_until_fail_after_in_a_row_then_the_primary_is_dead() {
      assertThat(FailoverPolicy.primary(true, false, 0, 4, ready)).isEqualTo(new Verdict.Suspect(1));
      assertThat(FailoverPolicy.primary(true, false, 2, 4, ready)).isEqualTo(new Verdict.Suspect(3));
      assertThat(FailoverPolicy.primary(true, false, 3, 4, ready)).isEqualTo(new Verdict.FailOver("unreachable for 4 checks in a row"));
    }

    @Test
    void a_primary_whose_process_exited_is_dead_at_once() {
      assertThat(FailoverPolicy.primary(false, false, 0, 4, ready)).isEqualTo(new Verdict.FailOver("its process exited"));
    }

    @Test
    void a_dead_primary_is_restarted_in_place_when_promoting_the_standby_is_not_safe() {
      assertThat(FailoverPolicy.primary(false, false, 0, 4, new Standby(false, true, false)))
          .isEqualTo(new Verdict.RestartInPlace("its process exited",
              "the standby is not synchronous (promoting it could lose acknowledged commits)"));
      assertThat(FailoverPolicy.primary(false, false, 0, 4, new Standby(false, false, true)))
          .isEqualTo(new Verdict.RestartInPlace("its process exited", "the standby is down"));
      assertThat(FailoverPolicy.primary(true, false, 3, 4, new Standby(true, true, true)))
          .isEqualTo(new Verdict.RestartInPlace("unreachable for 4 checks in a row", "the standby is being rebuilt"));
    }
  }
}
