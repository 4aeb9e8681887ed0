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
 */
final class Backends {
  private final Backend[] primaries;
  private final Backend[] backups;
  private final Map<String, Backend> byName = new LinkedHashMap<>();
  private final AtomicInteger next = new AtomicInteger();

  Backends(List<Backend> all) {
    List<Backend> p = new ArrayList<>();
    List<Backend> b = new ArrayList<>();
    for (Backend backend : all) {
      (backend.backup() ? b : p).add(backend);
      byName.put(backend.name(), backend);
    }
    primaries = p.toArray(Backend[]::new);
    backups = b.toArray(Backend[]::new);
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
