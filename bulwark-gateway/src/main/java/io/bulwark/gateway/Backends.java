package io.bulwark.gateway;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Picks the server for a request, with HAProxy's backup semantics: the usable primary with the fewest
 * requests in flight (ties go round-robin, so an idle pool is plain round-robin); only when no
 * primary is usable, the first usable backup in configuration order.
 *
 * <p>Servers can be added and removed while requests flow ({@link #add}, {@link #remove}: a cluster's
 * gateways follow the API servers registered in etcd). The set is copy-on-write: the hot path reads
 * one volatile array and never locks.
 */
final class Backends {
  private volatile Backend[] primaries;
  private volatile Backend[] backups;
  private volatile Map<String, Backend> byName;
  private final AtomicInteger next = new AtomicInteger();

  Backends(List<Backend> all) {
    publish(all);
  }

  private void publish(List<Backend> all) {
    List<Backend> p = new ArrayList<>();
    List<Backend> b = new ArrayList<>();
    Map<String, Backend> names = new LinkedHashMap<>();
    for (Backend backend : all) {
      (backend.backup() ? b : p).add(backend);
      names.put(backend.name(), backend);
    }
    byName = names;
    backups = b.toArray(Backend[]::new);
    primaries = p.toArray(Backend[]::new);
  }

  /** Adds a server; false if one by that name exists. */
  synchronized boolean add(Backend backend) {
    if (byName.containsKey(backend.name())) return false;
    List<Backend> all = new ArrayList<>(byName.values());
    all.add(backend);
    publish(all);
    return true;
  }

  /**
   * Removes a server: no new request goes to it; requests in flight finish. The last primary server
   * cannot be removed (the gateway would have nothing to send requests to).
   */
  synchronized Backend remove(String name) {
    Backend gone = named(name);
    if (!gone.backup() && primaries.length == 1) {
      throw new IllegalStateException("server " + name + " is the only primary server; add another before removing it");
    }
    List<Backend> all = new ArrayList<>(byName.values());
    all.remove(gone);
    publish(all);
    gone.retire();
    return gone;
  }

  List<Backend> all() {
    return List.copyOf(byName.values());
  }

  Backend named(String name) {
    Backend b = byName.get(name);
    if (b == null) throw new UnknownServerException(name, byName.keySet());
    return b;
  }

  Backend find(String name) {
    return byName.get(name);
  }

  /** A server for a new request, with its in-flight count taken; null if none is usable. */
  Backend acquire() {
    return acquireOther(null);
  }

  /** Like {@link #acquire()} but never {@code avoid} (the server a request just failed on). */
  Backend acquireOther(Backend avoid) {
    // a pick can lose a race with drain/maint/down; try again then, a bounded number of times
    for (int attempt = 0; attempt <= byName.size(); attempt++) {
      Backend b = pick(avoid);
      if (b == null) return null;
      if (b.tryAcquire()) return b;
    }
    return null;
  }

  private Backend pick(Backend avoid) {
    Backend[] primaries = this.primaries;
    Backend[] backups = this.backups;
    int n = primaries.length;
    if (n == 1) {
      Backend only = primaries[0];
      if (only != avoid && only.usable()) return only;
    } else {
      int start = Math.floorMod(next.getAndIncrement(), n);
      Backend best = null;
      int bestLoad = Integer.MAX_VALUE;
      for (int i = 0; i < n; i++) {
        Backend b = primaries[(start + i) % n];
        if (b == avoid || !b.usable()) continue;
        int load = b.inFlight();
        if (load < bestLoad) {
          best = b;
          bestLoad = load;
        }
      }
      if (best != null) return best;
    }
    for (Backend b : backups) {
      if (b != avoid && b.usable()) return b;
    }
    return null;
  }

  boolean anyUsable() {
    for (Backend b : byName.values()) {
      if (b.usable()) return true;
    }
    return false;
  }
}
