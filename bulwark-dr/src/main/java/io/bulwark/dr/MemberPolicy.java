package io.bulwark.dr;

import java.util.Optional;

/**
 * The rules of a database node in a cluster, as one pure function from what the node sees (the
 * cluster's keys in etcd, its own lease, its own data directory) to what it must do: Patroni's HA
 * loop ({@code ha.py}: {@code _run_cycle}, {@code is_healthiest_node}, {@code sync_mode} checks)
 * reduced to the decisions. {@link DatabaseMember} observes, asks this, and carries the answer out;
 * {@code MemberPolicyTest} pins every rule without a process, a store or a clock.
 *
 * <p>The rules that keep data:
 *
 * <ul>
 *   <li>Only the holder of the leader lease runs a writable primary; a node that cannot confirm its
 *       lease in time steps down (the lease's own rule, {@link io.bulwark.cluster.lease.LeaderLease}).
 *   <li>With no leader, only a node that holds every acknowledged commit may take over: the
 *       synchronous standby named in {@code db/sync}, or the last leader itself (it was the primary;
 *       a commit acknowledged without a standby is only there). Anyone else waits.
 *   <li>A node that was a primary and finds another leader has history the leader may not have
 *       (commits it wrote locally that were never acknowledged): it is rebuilt from the archive, never
 *       started as the leader's standby on a diverged history.
 * </ul>
 */
final class MemberPolicy {
  private MemberPolicy() {}

  /**
   * What this node knows of itself.
   *
   * @param initialized its data directory holds a database
   * @param wasPrimary it last ran as a primary (a file beside the data directory says so)
   */
  record Local(boolean initialized, boolean wasPrimary) {}

  /**
   * One look at the cluster.
   *
   * @param self this node's name
   * @param leader who holds the leader key now (empty: nobody; the lease expired or was released)
   * @param leading this node holds the lease and may still act on it (its own lease verdict)
   * @param sync the synchronous standby named in {@code db/sync} (empty: none)
   * @param lastLeader who led last ({@code db/last-leader})
   * @param initializedBy who initialized the cluster's database ({@code db/initialize}; empty: nobody yet)
   */
  record View(String self, Optional<String> leader, boolean leading, Optional<String> sync, Optional<String> lastLeader,
      Optional<String> initializedBy, Local local) {}

  /** What to do now. */
  sealed interface Action {
    /** Keep (or become) the writable primary: renew the lease, manage replication. */
    record Lead() implements Action {}

    /** The lease is ours no more (or cannot be confirmed): stop accepting writes at once. */
    record StepDown(String why) implements Action {}

    /** The leader key names this node from an earlier run of its agent: take the lease over if it still lives. */
    record Adopt() implements Action {}

    /** No database anywhere yet: claim the initialization, initdb, lead. */
    record Bootstrap() implements Action {}

    /** No leader, and this node holds every acknowledged commit: try to acquire the lease and promote. */
    record TakeOver(String why) implements Action {}

    /** Run as a standby of {@code leader}. */
    record Follow(String leader) implements Action {}

    /** Build this node afresh from the archive, as a standby of {@code leader}. */
    record Seed(String leader, String why) implements Action {}

    /** Nothing this node may do yet. */
    record Wait(String why) implements Action {}
  }

  static Action decide(View v) {
    String self = v.self();
    if (v.leader().isPresent() && v.leader().get().equals(self)) {
      return v.leading() ? new Action.Lead() : new Action.Adopt();
    }
    if (v.leading()) {
      return new Action.StepDown(v.leader().map(l -> "the leader key names " + l).orElse("the leader key is gone"));
    }
    if (v.leader().isPresent()) {
      String leader = v.leader().get();
      if (!v.local().initialized()) return new Action.Seed(leader, "this node has no database yet");
      if (v.local().wasPrimary()) {
        return new Action.Seed(leader, "this node was a primary and " + leader + " leads now: its history may have diverged");
      }
      return new Action.Follow(leader);
    }
    // nobody leads
    if (v.initializedBy().isEmpty()) return new Action.Bootstrap();
    if (!v.local().initialized()) return new Action.Wait("no leader, and this node has no database to offer");
    if (v.sync().isPresent() && v.sync().get().equals(self)) {
      return new Action.TakeOver("no leader; this node is the synchronous standby, which holds every acknowledged commit");
    }
    if (v.lastLeader().isPresent() && v.lastLeader().get().equals(self) && v.local().wasPrimary()) {
      return new Action.TakeOver("no leader; this node led last and its data is intact");
    }
    return new Action.Wait("no leader; waiting for " + v.sync().map(s -> s + " (the synchronous standby)")
        .or(() -> v.lastLeader().map(l -> l + " (the last leader)")).orElse("a node that holds every acknowledged commit")
        + " to take over: promoting this node could lose acknowledged commits");
  }
}
