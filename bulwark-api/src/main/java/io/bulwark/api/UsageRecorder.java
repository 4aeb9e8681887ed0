package io.bulwark.api;

import io.bulwark.postgres.UsageRepository;
import io.bulwark.postgres.UsageRepository.Counts;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Counts each tenant's requests, submitted tasks and bytes in memory and writes them to the database
 * in one statement per flush, so the hot path does no database write for statistics. If a flush
 * fails, its counts are kept and written with the next one; a crash loses at most one flush interval.
 */
final class UsageRecorder {
  private static final Logger log = LoggerFactory.getLogger(UsageRecorder.class);

  private record Key(String tenant, long minute) {}

  private static final class Cell {
    final LongAdder requests = new LongAdder();
    final LongAdder submitted = new LongAdder();
    final LongAdder bytesIn = new LongAdder();
    final LongAdder bytesOut = new LongAdder();
    final LongAdder bytesStored = new LongAdder();
  }

  private final UsageRepository usage;
  /**
   * Recorders hold the read lock while they add to a cell of {@link #current}; a flush takes the write
   * lock to swap the map, so no increment can land in a map that was already summed (and be lost).
   */
  private final ReadWriteLock swap = new ReentrantReadWriteLock();
  private volatile Map<Key, Cell> current = new ConcurrentHashMap<>();
  private final List<Counts> unwritten = new ArrayList<>();

  UsageRecorder(UsageRepository usage) {
    this.usage = usage;
  }

  /** Counts one request of the tenant with its body sizes. */
  void record(String tenant, long bytesIn, long bytesOut) {
    add(tenant, 1, 0, bytesIn, bytesOut, 0);
  }

  /**
   * Counts tasks the tenant submitted and the bytes their inputs keep stored (the request that carried
   * them is counted by {@link #record}).
   */
  void submitted(String tenant, long tasks, long bytesStored) {
    if (tasks > 0) add(tenant, 0, tasks, 0, 0, bytesStored);
  }

  private void add(String tenant, long requests, long submitted, long bytesIn, long bytesOut, long bytesStored) {
    long minute = System.currentTimeMillis() / 60_000;
    swap.readLock().lock();
    try {
      Cell c = current.computeIfAbsent(new Key(tenant, minute), k -> new Cell());
      if (requests > 0) c.requests.add(requests);
      if (submitted > 0) c.submitted.add(submitted);
      if (bytesIn > 0) c.bytesIn.add(bytesIn);
      if (bytesOut > 0) c.bytesOut.add(bytesOut);
      if (bytesStored > 0) c.bytesStored.add(bytesStored);
    } finally {
      swap.readLock().unlock();
    }
  }

  /** Writes what was counted since the last flush. Called from one thread. */
  synchronized void flush() {
    Map<Key, Cell> taken;
    swap.writeLock().lock();
    try {
      taken = current;
      current = new ConcurrentHashMap<>();
    } finally {
      swap.writeLock().unlock();
    }
    for (Map.Entry<Key, Cell> e : taken.entrySet()) {
      Cell c = e.getValue();
      unwritten.add(new Counts(e.getKey().tenant(), Instant.ofEpochMilli(e.getKey().minute() * 60_000),
          c.requests.sum(), c.submitted.sum(), 0, 0, c.bytesIn.sum(), c.bytesOut.sum(), c.bytesStored.sum()));
    }
    if (unwritten.isEmpty()) return;
    try {
      usage.add(merge(unwritten));
      unwritten.clear();
    } catch (RuntimeException e) {
      log.warn("usage flush of {} tenant-minute(s) failed, keeping them for the next flush: {}", unwritten.size(),
          e.getMessage());
      if (unwritten.size() > 100_000) unwritten.subList(0, unwritten.size() - 100_000).clear();
    }
  }

  private static List<Counts> merge(List<Counts> rows) {
    Map<String, Counts> byKey = new java.util.TreeMap<>(); // sorted: stable lock order across API servers
    for (Counts c : rows) {
      byKey.merge(c.tenant() + "\u0000" + c.minute().toEpochMilli(), c, (a, b) -> new Counts(a.tenant(), a.minute(),
          a.requests() + b.requests(), a.tasksSubmitted() + b.tasksSubmitted(), 0, 0, a.bytesIn() + b.bytesIn(),
          a.bytesOut() + b.bytesOut(), a.bytesStored() + b.bytesStored()));
    }
    return new ArrayList<>(byKey.values());
  }
}
