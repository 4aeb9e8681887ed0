package io.bulwark.dr;

/**
 * The failover controller's rules as pure functions of what it observed: no connection, no process,
 * no clock. {@link FailoverController} observes, asks these, and carries out the answer; {@code
 * FailoverPolicyTest} pins every rule without starting PostgreSQL.
 */
final class FailoverPolicy {
  private FailoverPolicy() {}

  /**
   * What one check of the primary saw of the standby in {@code pg_stat_replication}.
   *
   * @param state the WAL sender's state ({@code streaming}, {@code catchup}, ...), null when the
   *     standby is not connected
   * @param syncState {@code sync} once the primary waits for it
   * @param flush how far the standby has flushed WAL (null when not connected)
   * @param current the primary's current WAL position
   */
  record Sample(String state, String syncState, Lsn flush, Lsn current) {
    boolean streaming() {
      return "streaming".equals(state) && flush != null;
    }

    Long lagBytes() {
      return flush == null ? null : Math.max(0, current.minus(flush));
    }
  }

  /**
   * The replication mode the controller keeps (Patroni's synchronous_mode).
   *
   * @param synchronous the primary names the standby in {@code synchronous_standby_names}
   * @param eligible the standby may be promoted without losing an acknowledged commit
   * @param syncSince the primary's WAL position when synchronous mode was last turned on: commits
   *     before it were acknowledged without waiting for the standby
   */
  record Mode(boolean synchronous, boolean eligible, Lsn syncSince) {
    static final Mode ASYNCHRONOUS = new Mode(false, false, null);
  }

  /** What to change in the primary's configuration, if anything. */
  enum Switch { NONE, TO_SYNCHRONOUS, TO_ASYNCHRONOUS }

  /** The next mode, the configuration change that gets there, and what to record (null: nothing). */
  record Transition(Mode next, Switch change, String event) {}

  /**
   * The synchronous/asynchronous rules. With synchronous replication configured:
   *
   * <ul>
   *   <li>a streaming standby becomes the synchronous one; it is not yet eligible, since commits
   *       acknowledged before may be missing on it;
   *   <li>it becomes eligible once it is {@code sync} and has flushed past the position where
   *       synchronous mode was turned on;
   *   <li>a standby that stops streaming is made ineligible first and only then dropped from
   *       {@code synchronous_standby_names}, so that writes never block on a dead standby and a
   *       standby that may have missed a commit is never promoted.
   * </ul>
   *
   * Without synchronous replication a standby is eligible while it streams within {@code
   * maxLagBytes} (Patroni's maximum_lag_on_failover).
   */
  static Transition replication(boolean synchronousConfigured, long maxLagBytes, Mode mode, Sample s, String standby) {
    if (!synchronousConfigured) {
      Long lag = s.lagBytes();
      boolean eligible = s.streaming() && lag != null && lag <= maxLagBytes;
      return new Transition(new Mode(false, eligible, null), Switch.NONE, null);
    }
    if (s.streaming() && !mode.synchronous()) {
      return new Transition(new Mode(true, false, s.current()), Switch.TO_SYNCHRONOUS,
          "replication synchronous: " + standby + " is streaming");
    }
    if (s.streaming() && !mode.eligible() && "sync".equals(s.syncState()) && s.flush().compareTo(mode.syncSince()) >= 0) {
      return new Transition(new Mode(true, true, mode.syncSince()), Switch.NONE,
          standby + " is synchronous and caught up: eligible for failover");
    }
    if (!s.streaming() && mode.synchronous()) {
      return new Transition(Mode.ASYNCHRONOUS, Switch.TO_ASYNCHRONOUS, "replication asynchronous: " + standby + " is "
          + (s.state() == null ? "not connected" : s.state()) + " (writes no longer wait for it)");
    }
    return new Transition(mode, Switch.NONE, null);
  }

  /** The standby as the failure rules need to see it. */
  record Standby(boolean rebuilding, boolean alive, boolean eligible) {}

  /** What to do about the primary after a tick. */
  sealed interface Verdict {
    /** The check passed. */
    record Healthy() implements Verdict {}

    /** The check failed, not yet {@code failAfter} times in a row. */
    record Suspect(int failedChecks) implements Verdict {}

    /** The primary is dead and the standby may take over: fence, record, promote. */
    record FailOver(String reason) implements Verdict {}

    /** The primary is dead but promoting the standby could lose data or cannot work: restart in place. */
    record RestartInPlace(String reason, String whyNoFailover) implements Verdict {}
  }

  /**
   * The failure rules: a primary whose process exited is dead at once; one that fails {@code
   * failAfter} checks in a row is dead. A dead primary fails over only to an eligible, running standby
   * that is not being rebuilt; otherwise it is restarted in place (crash recovery loses nothing).
   *
   * @param failedBefore failed checks in a row before this tick
   */
  static Verdict primary(boolean processAlive, boolean checkPassed, int failedBefore, int failAfter, Standby standby) {
    String reason;
    if (!processAlive) {
      reason = "its process exited";
    } else if (checkPassed) {
      return new Verdict.Healthy();
    } else if (failedBefore + 1 < failAfter) {
      return new Verdict.Suspect(failedBefore + 1);
    } else {
      reason = "unreachable for " + (failedBefore + 1) + " checks in a row";
    }
    if (standby.rebuilding()) return new Verdict.RestartInPlace(reason, "the standby is being rebuilt");
    if (!standby.alive()) return new Verdict.RestartInPlace(reason, "the standby is down");
    if (!standby.eligible()) {
      return new Verdict.RestartInPlace(reason, "the standby is not synchronous (promoting it could lose acknowledged commits)");
    }
    return new Verdict.FailOver(reason);
  }
}
