package io.bulwark.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.bulwark.cluster.lease.LeaseStore;
import io.bulwark.cluster.spec.ClusterSpec;
import io.bulwark.cluster.spec.Role;
import io.bulwark.cluster.state.ClusterKeys;
import io.bulwark.dr.DatabaseMember;
import io.bulwark.monitor.CheckResult;
import io.bulwark.monitor.CheckSource;
import io.bulwark.monitor.Groups;
import io.bulwark.monitor.Observation;
import io.bulwark.monitor.Status;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The checks of a cluster, as the monitor on one of its hosts runs them: from what the agents keep in
 * etcd, never from the hosts' own files.
 *
 * <ul>
 *   <li>{@code etcd}: the store answers; every other check depends on it (without it nothing is known);
 *   <li>{@code node:NAME}: the host's agent keeps its registration (a lost host, a stopped agent, a
 *       host cut off from etcd); its components depend on it, so a lost host is one incident;
 *   <li>{@code component:NODE/NAME}: each registered component is healthy (its agent probes it every second);
 *   <li>{@code database}: the leader lease names a node whose PostgreSQL runs as the primary;
 *   <li>{@code failover}: {@code db/sync} names a synchronous standby holding every acknowledged commit.
 * </ul>
 */
final class ClusterChecks {
  private static final ObjectMapper JSON = new ObjectMapper();

  private ClusterChecks() {}

  /**
   * @param members the registrations in etcd, by node (throws when etcd does not answer)
   * @param leases where the database leader lease is
   * @param keys the cluster's keys ({@code db/sync})
   */
  static CheckSource source(ClusterSpec spec, Supplier<Map<String, byte[]>> members, LeaseStore leases, ClusterKeys keys) {
    return () -> observations(spec, members, leases, keys);
  }

  static List<Observation> observations(ClusterSpec spec, Supplier<Map<String, byte[]>> members, LeaseStore leases, ClusterKeys keys) {
    List<Observation> out = new ArrayList<>();
    List<String> etcd = List.of("etcd");
    Map<String, byte[]> registered;
    Optional<String> leader;
    Optional<String> sync;
    try {
      registered = members.get();
      leader = leases.holder(DatabaseMember.LEADER_KEY);
      sync = keys.get(DatabaseMember.SYNC_KEY);
    } catch (RuntimeException e) {
      out.add(new Observation("etcd", "etcd", List.of(), CheckResult.of(Status.CRITICAL,
          "etcd does not answer (" + e.getMessage() + "): the cluster cannot elect a primary or see its hosts")));
      return out;
    }
    out.add(new Observation("etcd", "etcd", List.of(), CheckResult.of(Status.OK, "etcd answers; " + registered.size() + " of "
        + spec.nodes().size() + " agents registered")));
    String primaryRole = null;
    for (ClusterSpec.Node n : spec.nodes()) {
      String check = "node:" + n.name();
      byte[] doc = registered.get(n.name());
      if (doc == null) {
        out.add(new Observation(check, check, etcd, CheckResult.of(Status.CRITICAL, "host " + n.name() + " (" + n.address()
            + ") has no agent registered: the host is down, its agent stopped, or it is cut off from etcd")));
        continue;
      }
      out.add(new Observation(check, check, etcd, CheckResult.of(Status.OK, "agent of " + n.name() + " registered")));
      JsonNode reg;
      try {
        reg = JSON.readTree(doc);
      } catch (IOException e) {
        continue;
      }
      for (JsonNode c : reg.path("components")) {
        String name = c.path("name").asText();
        String role = c.path("role").asText();
        if (role.equals("monitor")) continue;
        boolean pg = role.startsWith("pg-");
        if (pg && n.name().equals(leader.orElse(null))) primaryRole = role;
        String group = Groups.ofComponent(role, n.name() + "/" + name);
        List<String> parents = new ArrayList<>(List.of("etcd", check));
        if (!pg) parents.add("database");
        boolean healthy = c.path("healthy").asBoolean();
        String why = c.path("why").asText("");
        CheckResult r = healthy
            ? CheckResult.of(Status.OK, name + " on " + n.name() + " healthy (" + role + ", restarts " + c.path("restarts").asInt() + ")")
            : CheckResult.of(Status.CRITICAL, name + " on " + n.name() + " " + (c.path("alive").asBoolean() ? "runs but fails its health check"
                : "is not running") + " (" + role + (why.isEmpty() ? "" : ": " + why) + ")");
        out.add(new Observation("component:" + n.name() + "/" + name, group, parents, r));
      }
    }
    if (!spec.running(Role.POSTGRES).isEmpty()) {
      CheckResult db = leader.isEmpty() ? CheckResult.of(Status.CRITICAL, "no node holds the database leader lease: no primary")
          : "pg-primary".equals(primaryRole) ? CheckResult.of(Status.OK, "primary " + leader.get() + " holds the leader lease")
          : CheckResult.of(Status.CRITICAL, leader.get() + " holds the leader lease but its PostgreSQL is " + (primaryRole == null
              ? "not registered" : primaryRole));
      out.add(new Observation("database", Groups.DATABASE, etcd, db));
      if (spec.running(Role.POSTGRES).size() > 1) {
        out.add(new Observation("failover", Groups.DATABASE, List.of("etcd", "database"), sync.isPresent()
            ? CheckResult.of(Status.OK, "standby " + sync.get() + " is synchronous and holds every acknowledged commit")
            : CheckResult.of(Status.WARNING, "running without a synchronous standby: RPO is no longer 0 and a primary failure is not failed over")));
      }
    }
    return out;
  }
}
