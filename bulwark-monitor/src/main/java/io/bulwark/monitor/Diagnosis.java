package io.bulwark.monitor;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The diagnosis of an incident, for the person who is told: what failed and since when, what Bulwark
 * did about it (from the event journal) and whether that worked, what is still degraded anywhere (a
 * database without a synchronous standby has lost its RPO of 0 even after a successful failover), and
 * which runbook section to follow. A pure function of the incident and the checks now.
 */
final class Diagnosis {
  private Diagnosis() {}

  static List<String> of(Incident i, Map<String, CheckState> states, Map<String, Observation> observed, Instant now) {
    List<String> out = new ArrayList<>();
    out.add("What failed: " + i.title + " (since " + i.openedAt + ", " + ago(i.openedAt, now) + ")");
    List<String> did = i.timeline.stream().filter(t -> t.contains("[db.") || t.contains("[component.") || t.contains("[storage.")
        || t.contains("[dns.") || t.contains("[gateway.") || t.contains("[archive.")).toList();
    if (!did.isEmpty()) {
      out.add("What Bulwark did (event journal):");
      for (String t : did) out.add("  " + t);
    }
    List<String> failingHere = new ArrayList<>();
    List<String> okHere = new ArrayList<>();
    for (Map.Entry<String, String> c : i.checks.entrySet()) {
      CheckState s = states.get(c.getKey());
      if (s == null) continue;
      (s.status().ok() ? okHere : failingHere).add(c.getKey() + ": " + s.describe() + " - " + s.last().message());
    }
    if (failingHere.isEmpty() && !i.checks.isEmpty()) {
      out.add("Did it work: yes, every check of this incident is OK now");
    } else if (!failingHere.isEmpty()) {
      out.add("Did it work: not yet; still failing:");
      for (String f : failingHere) out.add("  " + f);
    }
    if (!i.suppressed.isEmpty()) {
      out.add("Also affected, as a consequence (not paged separately): " + String.join(", ", i.suppressed));
    }
    List<String> degraded = new ArrayList<>();
    for (Map.Entry<String, CheckState> e : states.entrySet()) {
      if (e.getValue().status().ok() || i.checks.containsKey(e.getKey()) && !e.getKey().equals("failover")) continue;
      degraded.add(e.getKey() + ": " + e.getValue().status() + " - " + e.getValue().last().message());
    }
    if (!degraded.isEmpty()) {
      out.add("Still degraded elsewhere:");
      for (String d : degraded) out.add("  " + d);
    }
    out.add("Runbook: " + i.runbook);
    return out;
  }

  /** The runbook section for a group (docs/operations.md, "Failure runbooks"). */
  static String runbook(String group) {
    String section = switch (group) {
      case Groups.DATABASE -> "\"The primary database dies or hangs\" / \"The standby dies or hangs\"";
      case Groups.ARCHIVE -> "\"Backups and point-in-time restore\"";
      case Groups.STORAGE -> "\"A storage region fails\"";
      case Groups.DNS -> "\"The load balancer dies\" (the front door)";
      case Groups.WORKERS -> "\"A worker dies\"";
      case Groups.DISK -> "\"Memory\" and disk: free space under the data directory";
      case "etcd" -> "\"Several hosts\": etcd (quorum lost: the primary stops writing within its lease; restore the members)";
      default -> group.startsWith(Groups.NODE) ? "\"Several hosts\": host loss and partition runbooks"
          : group.startsWith(Groups.COMPONENT) ? componentSection(group.substring(Groups.COMPONENT.length())) : "\"Failure runbooks\"";
    };
    return "docs/operations.md, " + section;
  }

  private static String componentSection(String name) {
    if (name.startsWith("api")) return "\"An API server dies\"";
    if (name.startsWith("worker")) return "\"A worker dies\"";
    if (name.startsWith("gateway") || name.startsWith("haproxy")) return "\"The load balancer dies\"";
    if (name.startsWith("pg-")) return "\"The primary database dies or hangs\"";
    if (name.startsWith("azurite")) return "\"A storage region fails\"";
    if (name.equals("dns") || name.equals("named")) return "\"The DNS provider fails\"";
    return "\"Failure runbooks\"";
  }

  static String ago(Instant then, Instant now) {
    Duration d = Duration.between(then, now);
    if (d.toSeconds() < 120) return String.format(Locale.ROOT, "%.1f s ago", d.toMillis() / 1000.0);
    if (d.toMinutes() < 120) return d.toMinutes() + " min ago";
    return d.toHours() + " h ago";
  }
}
