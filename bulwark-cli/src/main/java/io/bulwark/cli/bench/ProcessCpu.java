package io.bulwark.cli.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.OptionalLong;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * CPU time of processes from {@code /proc/PID/stat} (Linux): user and system time of the process
 * itself (all its threads) plus that of its children it has waited for. Summed over a process tree,
 * the total is conserved when a child exits between two samples (a PostgreSQL backend closing: its
 * time moves into the postmaster's children's time), so the difference of two samples is what the
 * tree spent between them.
 */
public final class ProcessCpu {
  /** Clock ticks per second of the stat fields: USER_HZ, 100 on every Linux architecture Bulwark runs on. */
  static final long TICKS_PER_SECOND = 100;

  private ProcessCpu() {}

  /** The CPU time of one process and its waited-for children, in microseconds; empty when it is gone. */
  public static OptionalLong micros(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      // the command name (field 2) is in parentheses and may hold spaces: count fields after its ')'
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]) + Long.parseLong(f[13]) + Long.parseLong(f[14]);
      return OptionalLong.of(ticks * 1_000_000 / TICKS_PER_SECOND);
    } catch (IOException | RuntimeException e) {
      return OptionalLong.empty();
    }
  }

  /** CPU microseconds of root's tree by group: each live process is put in the group {@code group} names (null: "other"). */
  public static Map<String, Long> byGroup(ProcessHandle root, Function<Long, String> group) {
    Map<String, Long> out = new TreeMap<>();
    add(out, root.pid(), group);
    root.descendants().forEach(p -> add(out, p.pid(), group));
    return out;
  }

  private static void add(Map<String, Long> out, long pid, Function<Long, String> group) {
    OptionalLong us = micros(pid);
    if (us.isEmpty()) return;
    String g = group.apply(pid);
    out.merge(g == null ? "other" : g, us.getAsLong(), Long::sum);
  }

  /** after − before, group by group (a group only in after counts from zero). */
  public static Map<String, Long> difference(Map<String, Long> before, Map<String, Long> after) {
    Map<String, Long> out = new TreeMap<>();
    after.forEach((g, us) -> out.put(g, us - before.getOrDefault(g, 0L)));
    before.forEach((g, us) -> out.putIfAbsent(g, -us));
    return out;
  }

  /** "postgres KIND" for a PostgreSQL process (see {@link #postgresKind}), null for any other. */
  public static String postgresGroup(long pid) {
    String cmd = cmdline(pid);
    if (cmd == null) return null;
    return cmd.startsWith("postgres") || cmd.contains("/bin/postgres ") || cmd.endsWith("/bin/postgres") ? "postgres " + postgresKind(cmd) : null;
  }

  /** A PostgreSQL process's kind ("backends" for client backends, "walsender", "checkpointer", ...). */
  static String postgresKind(long pid) {
    return postgresKind(cmdline(pid));
  }

  /**
   * The kind from a process title ("postgres: walsender ...", "postgres: checkpointer"); any other
   * command line is the postmaster; a process gone (null) counts with the backends, which come and go.
   */
  private static String postgresKind(String cmd) {
    if (cmd == null) return "backends";
    if (!cmd.startsWith("postgres: ")) return "postmaster";
    String title = cmd.substring("postgres: ".length());
    for (String kind : new String[] {"walsender", "walreceiver", "walwriter", "checkpointer", "background writer", "archiver",
        "autovacuum", "startup", "logical replication", "stats", "io worker"}) {
      if (title.startsWith(kind) || title.contains(": " + kind)) return kind; // "NAME: kind" with cluster_name set
    }
    return "backends";
  }

  /** The process's command line, arguments separated by spaces; null when it is gone. */
  private static String cmdline(long pid) {
    try {
      return Files.readString(Path.of("/proc", Long.toString(pid), "cmdline")).replace('\0', ' ').trim();
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }
}
