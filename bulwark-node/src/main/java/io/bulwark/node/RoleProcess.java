package io.bulwark.node;

import java.util.ArrayList;
import java.util.List;

/** The command line of a child JVM running one `bulwark` role, as `up` and the agent start them. */
public final class RoleProcess {
  private RoleProcess() {}

  /** The `bulwark` command's entry point (bulwark-cli), which every role process runs: named, as this module cannot depend on the CLI. */
  public static final String MAIN_CLASS = "io.bulwark.cli.Main";

  /** Roles that decide and check rather than serve: run small (see {@link #command}). */
  static final java.util.Set<String> SMALL = java.util.Set.of("monitor", "dns");

  /** Same java, same class path, bounded heap, GC log in {@code dir/logs}; exits if its supervisor dies. */
  static ProcessBuilder command(DataDir dir, String heap, String role, List<String> args) {
    String java = ProcessHandle.current().info().command().orElse("java");
    int n = args.indexOf("--name");
    String name = n >= 0 && n + 1 < args.size() ? args.get(n + 1) : role;
    String gcLog = "-Xlog:gc:file=" + dir.logs().resolve(name + "-gc.log") + ":time,uptime:filecount=2,filesize=10m";
    List<String> cmd = new ArrayList<>(List.of(java, "-Xmx" + heap));
    if (SMALL.contains(role)) {
      // controllers that idle most of the time: the serial collector, the client compiler only and a small code cache
      // cut their resident memory (docs/performance.md, "Footprint"); they have no throughput to lose
      cmd.addAll(List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:ReservedCodeCacheSize=32m", "-Xss512k"));
    } else {
      cmd.addAll(List.of("-XX:+UseSerialGC", "-Xms16m"));
    }
    cmd.addAll(List.of("-XX:+ExitOnOutOfMemoryError", "--enable-native-access=ALL-UNNAMED", "-Xshare:auto", gcLog));
    // Netty (the gateway) uses sun.misc.Unsafe for its buffers where allowed; Java 23+ asks for it explicitly
    // (Java 25 otherwise makes Netty fall back to slower ByteBuffer access; the same java runs every role)
    if (Runtime.version().feature() >= 23) cmd.add("--sun-misc-unsafe-memory-access=allow");
    // extra JVM options for every role, e.g. a flight recording or heap dumps: BULWARK_JAVA_OPTS
    String extra = System.getenv("BULWARK_JAVA_OPTS");
    if (extra != null && !extra.isBlank()) cmd.addAll(List.of(extra.trim().split("\\s+")));
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), MAIN_CLASS, role));
    cmd.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().put(Roles.SUPERVISOR_PID, Long.toString(ProcessHandle.current().pid()));
    pb.environment().remove(io.bulwark.core.ProcessSecrets.ON_STDIN); // set again only where secrets are sent
    // glibc gives each thread that mallocs its own arena (up to 8 per core), most of it idle resident
    // memory in a JVM; two are plenty for the JVM's native allocations (docs/performance.md, "Footprint")
    pb.environment().putIfAbsent("MALLOC_ARENA_MAX", "2");
    return pb;
  }
}
