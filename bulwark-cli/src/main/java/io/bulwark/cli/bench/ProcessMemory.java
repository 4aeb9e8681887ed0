package io.bulwark.cli.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Resident memory of a process from {@code /proc/PID/smaps_rollup} (Linux): RSS counts every page
 * the process maps, shared ones included (PostgreSQL's shared buffers appear in every backend), PSS
 * divides each shared page among the processes that map it, so PSS values add up to what the machine
 * really holds.
 */
public record ProcessMemory(long pid, long rssKib, long pssKib) {

  /** The process's memory, empty when it is gone or the kernel has no smaps_rollup. */
  public static Optional<ProcessMemory> of(long pid) {
    try {
      long rss = -1;
      long pss = -1;
      for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "smaps_rollup"))) {
        if (line.startsWith("Rss:")) rss = kib(line);
        else if (line.startsWith("Pss:")) pss = kib(line);
      }
      return rss < 0 || pss < 0 ? Optional.empty() : Optional.of(new ProcessMemory(pid, rss, pss));
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  /** The process and all its descendants that are still alive, measured now. */
  public static List<ProcessMemory> tree(ProcessHandle root) {
    List<ProcessMemory> out = new ArrayList<>();
    of(root.pid()).ifPresent(out::add);
    root.descendants().forEach(p -> of(p.pid()).ifPresent(out::add));
    return out;
  }

  private static long kib(String line) {
    return Long.parseLong(line.replaceAll("[^0-9]", ""));
  }
}
