package io.bulwark.storage;

import io.bulwark.core.blob.BlobException;
import io.bulwark.core.blob.BlobRef;
import io.bulwark.core.blob.BlobStore;
import io.bulwark.core.metrics.Metrics;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One blob store over two regions, each a {@link BlobStore} of its own (two Azure storage accounts,
 * two file systems): what survives the loss of a region.
 *
 * <ul>
 *   <li><b>Synchronous keys</b> (task inputs, WAL segments: {@link #DEFAULT_SYNCHRONOUS}): {@link #put}
 *       returns once the blob is in both regions while both are up, so a 202 means two regions hold
 *       it (RPO 0, as the synchronous standby gives the rows). With one region down (failing, or
 *       known down) the write goes to the other alone and a copy is owed.
 *   <li><b>Other keys</b> (results, base backups): written to the active region; the copy to the
 *       other is owed at once and made in the background.
 *   <li>What is owed is in a {@link ReplicationQueue} on disk before {@code put} returns, so a restart
 *       loses no copy; the replicator drains it every {@value #REPLICATE_EVERY_MS} ms, verifying each
 *       copy's SHA-256; the oldest entry's age is the replication lag (a metric, and in status).
 *   <li><b>Reads</b> try the active region first, then the other; a blob missing or corrupt in one
 *       region but good in the other is served from there and repaired (a copy is owed). {@link #open}
 *       does the same for blobs up to {@value #MAX_SYNC_BYTES} bytes (read whole, then streamed from
 *       memory); a larger one (a base backup's archive) is streamed and only a missing one falls back.
 *   <li>Which region is active is the deployment's {@link RegionChoice}; each process also stops
 *       sending to a region after {@value #FAILURES_TO_SKIP} failures in a row and tries it again every
 *       {@value #RETRY_DOWN_MS} ms, so a dead region costs a request its timeout only until then.
 * </ul>
 */
public final class ReplicatedBlobStore implements BlobStore {
  private static final Logger log = LoggerFactory.getLogger(ReplicatedBlobStore.class);
  /** Task inputs (acknowledged with the task) and WAL segments (the restorable window's end). */
  public static final Predicate<String> DEFAULT_SYNCHRONOUS =
      key -> key.startsWith("wal/") || (key.startsWith("tasks/") && key.endsWith("/input"));
  static final int MAX_SYNC_BYTES = 64 * 1024 * 1024;
  static final long REPLICATE_EVERY_MS = 200;
  static final int FAILURES_TO_SKIP = 3;
  static final long RETRY_DOWN_MS = 2_000;
  /** How long a synchronous write waits for the second region once the first holds the blob. */
  static final long SECOND_REGION_WAIT_MS = 2_000;

  /** A region: its name (in flags, status, the choice file) and its store. */
  public record Region(String name, BlobStore store) {}

  private final Region first;
  private final Region second;
  private final RegionChoice choice;
  private final ReplicationQueue queue;
  private final Predicate<String> synchronous;
  private final ExecutorService io = Executors.newVirtualThreadPerTaskExecutor();
  private final ScheduledExecutorService replicator =
      Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("blob-replicator").factory());
  private final Map<String, Health> health = new ConcurrentHashMap<>();
  private final java.util.concurrent.locks.Lock[] keyLocks = new java.util.concurrent.locks.Lock[64];
  private final Metrics.Counter repairs;
  private final Metrics.Counter copies;
  private final Metrics.Counter dropped;

  public ReplicatedBlobStore(Region first, Region second, RegionChoice choice, ReplicationQueue queue, Predicate<String> synchronous,
      Metrics metrics) {
    if (first.name().equals(second.name())) throw new BlobException("the two storage regions need different names, both are " + first.name());
    this.first = first;
    this.second = second;
    this.choice = choice;
    this.queue = queue;
    this.synchronous = synchronous;
    for (int i = 0; i < keyLocks.length; i++) keyLocks[i] = new java.util.concurrent.locks.ReentrantLock();
    for (Region r : List.of(first, second)) {
      health.put(r.name(), new Health());
      metrics.gauge("blob_region_usable", "1 while this process sends to the region (0 after 3 failures in a row, retried every 2 s)",
          () -> health.get(r.name()).isFailing() ? 0 : 1, "region", r.name());
      metrics.gauge("blob_region_active", "1 for the region writes go to first", () -> choice.active().equals(r.name()) ? 1 : 0,
          "region", r.name());
    }
    metrics.gauge("blob_replication_pending", "Copies one region owes the other", queue::size);
    metrics.gauge("blob_replication_lag_seconds", "Age of the oldest copy still owed (0 when none)", () -> lag().toMillis() / 1000.0);
    this.repairs = metrics.counter("blob_repairs_total", "Blobs missing or corrupt in one region, served from the other and repaired");
    this.copies = metrics.counter("blob_replicated_total", "Copies made from one region to the other");
    this.dropped = metrics.counter("blob_replication_dropped_total", "Copies owed whose source no longer matched (rotted or rewritten)");
    replicator.scheduleWithFixedDelay(this::replicate, REPLICATE_EVERY_MS, REPLICATE_EVERY_MS, TimeUnit.MILLISECONDS);
  }

  /** The region writes go to first now. */
  public Region active() {
    return region(choice.active());
  }

  private Region region(String name) {
    return second.name().equals(name) ? second : first;
  }

  private Region other(Region r) {
    return r == first ? second : first;
  }

  public List<Region> regions() {
    return List.of(first, second);
  }

  /**
   * Whether to send to the region now: yes unless it failed 3 times in a row; then no, except for one
   * caller every 2 s, whose request is the trial (this call claims it).
   */
  private boolean usable(String region) {
    return health.get(region).usable(System.nanoTime());
  }

  /** Whether this process has stopped sending to the region (3 failures in a row, not yet recovered). */
  public boolean failing(String region) {
    return health.get(region).isFailing();
  }

  /** The age of the oldest copy still owed. */
  public Duration lag() {
    return queue.oldest().map(t -> Duration.between(t, Instant.now())).orElse(Duration.ZERO);
  }

  public ReplicationQueue queue() {
    return queue;
  }

  @Override
  public BlobRef put(String key, InputStream data) {
    BlobStore.validateKey(key);
    java.util.concurrent.locks.Lock lock = keyLocks[Math.floorMod(key.hashCode(), keyLocks.length)];
    lock.lock(); // two writers of one key in this process must not leave each region with another's blob
    try {
      return putLocked(key, data);
    } finally {
      lock.unlock();
    }
  }

  private BlobRef putLocked(String key, InputStream data) {
    Region a = active();
    Region b = other(a);
    byte[] head = readAtMost(data, MAX_SYNC_BYTES + 1);
    if (head.length <= MAX_SYNC_BYTES) {
      return synchronous.test(key) ? putBoth(key, head, a, b) : putOne(key, head, a, b);
    }
    // too big to hold (a base backup's archive): one region, one attempt, the copy owed
    Region target = usable(a.name()) || !usable(b.name()) ? a : b;
    BlobRef ref;
    try {
      ref = target.store().put(key, new SequenceInputStream(new ByteArrayInputStream(head), data));
      ok(target);
    } catch (RuntimeException e) {
      failed(target, e);
      throw e; // the stream is consumed: the caller retries, and then the other region is tried first
    }
    queue.copy(ref, target.name(), other(target).name());
    return ref;
  }

  /** Writes to the active region (or the other when it fails) and owes the other a copy. */
  private BlobRef putOne(String key, byte[] bytes, Region a, Region b) {
    List<Region> order = usable(a.name()) || !usable(b.name()) ? List.of(a, b) : List.of(b, a);
    RuntimeException last = null;
    for (Region r : order) {
      try {
        BlobRef ref = r.store().put(key, bytes);
        ok(r);
        queue.forget(key, r.name());
        queue.copy(ref, r.name(), other(r).name());
        return ref;
      } catch (IllegalArgumentException e) {
        throw e;
      } catch (RuntimeException e) {
        failed(r, e);
        last = e;
      }
    }
    throw new BlobException("cannot write " + key + " to either storage region (" + a.name() + ", " + b.name() + "): " + last.getMessage(), last);
  }

  /**
   * Writes to both regions at once. Returns when both hold the blob; or, once one does, when the other
   * has not answered within {@value #SECOND_REGION_WAIT_MS} ms more (a region that hangs must not
   * hold every submit for its timeout) or has failed: then a copy is owed. Both failing fails the put.
   */
  private BlobRef putBoth(String key, byte[] bytes, Region a, Region b) {
    List<Region> targets = new ArrayList<>();
    for (Region r : List.of(a, b)) if (usable(r.name())) targets.add(r);
    if (targets.isEmpty()) targets = List.of(a, b); // both believed down: try them anyway
    java.util.concurrent.ExecutorCompletionService<Object[]> done = new java.util.concurrent.ExecutorCompletionService<>(io);
    for (Region r : targets) {
      done.submit(() -> {
        try {
          return new Object[] {r, r.store().put(key, bytes)};
        } catch (RuntimeException e) {
          return new Object[] {r, e};
        }
      });
    }
    BlobRef ref = null;
    List<Region> missing = new ArrayList<>(List.of(a, b));
    RuntimeException last = null;
    long deadline = Long.MAX_VALUE;
    for (int answered = 0; answered < targets.size(); answered++) {
      java.util.concurrent.Future<Object[]> next;
      try {
        long wait = deadline - System.nanoTime();
        next = deadline == Long.MAX_VALUE ? done.take() : done.poll(Math.max(0, wait), TimeUnit.NANOSECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new BlobException("interrupted while writing " + key, e);
      }
      if (next == null) break; // the other region did not answer in time: it owes a copy
      Object[] result;
      try {
        result = next.get();
      } catch (InterruptedException | ExecutionException e) {
        throw new BlobException("writing " + key + " failed: " + e, e);
      }
      Region r = (Region) result[0];
      if (result[1] instanceof BlobRef written) {
        ref = written;
        ok(r);
        missing.remove(r);
        queue.forget(key, r.name()); // an older copy owed there would overwrite this write
        if (deadline == Long.MAX_VALUE) deadline = System.nanoTime() + SECOND_REGION_WAIT_MS * 1_000_000;
      } else {
        last = (RuntimeException) result[1];
        failed(r, last);
      }
    }
    if (ref == null) {
      throw new BlobException("cannot write " + key + " to either storage region (" + a.name() + ", " + b.name() + "): " + last.getMessage(), last);
    }
    Region holder = missing.contains(a) ? b : a;
    for (Region r : missing) {
      if (targets.contains(r) && !health.get(r.name()).isFailing()) failed(r, new BlobException("no answer within " + SECOND_REGION_WAIT_MS + " ms"));
      queue.copy(ref, holder.name(), r.name());
    }
    return ref;
  }

  @Override
  public byte[] get(BlobRef ref) {
    Region a = active();
    List<Region> order = usable(a.name()) || !usable(other(a).name()) ? List.of(a, other(a)) : List.of(other(a), a);
    RuntimeException firstError = null;
    List<Region> needRepair = new ArrayList<>();
    for (Region r : order) {
      try {
        byte[] bytes = r.store().get(ref);
        ok(r);
        for (Region bad : needRepair) {
          queue.copy(ref, r.name(), bad.name());
          repairs.inc();
          log.warn("blob {} was missing or corrupt in region {}; served from {} and queued for repair", ref.key(), bad.name(), r.name());
        }
        return bytes;
      } catch (IllegalArgumentException e) {
        throw e;
      } catch (BlobException.NotFound | BlobException.Corrupt e) {
        needRepair.add(r);
        if (firstError == null) firstError = e;
      } catch (RuntimeException e) {
        failed(r, e);
        if (firstError == null) firstError = e;
      }
    }
    throw firstError;
  }

  @Override
  public InputStream open(BlobRef ref) {
    // a blob that fits in memory (WAL segments, inputs) is read whole and verified first, so that a copy
    // corrupt in one region is served from the other and repaired, as get() does; a corrupt stream
    // can only fail at its end, when its bytes are already consumed
    if (ref.size() <= MAX_SYNC_BYTES) {
      try {
        return new ByteArrayInputStream(get(ref));
      } catch (BlobException.Corrupt everywhere) {
        return new InputStream() { // as every store's stream: the mismatch surfaces when the stream is read
          @Override
          public int read() {
            throw everywhere;
          }
        };
      }
    }
    Region a = active();
    List<Region> order = usable(a.name()) || !usable(other(a).name()) ? List.of(a, other(a)) : List.of(other(a), a);
    RuntimeException firstError = null;
    for (Region r : order) {
      try {
        InputStream in = r.store().open(ref);
        ok(r);
        return in;
      } catch (IllegalArgumentException e) {
        throw e;
      } catch (BlobException.NotFound e) {
        if (firstError == null) firstError = e;
      } catch (RuntimeException e) {
        failed(r, e);
        if (firstError == null) firstError = e;
      }
    }
    throw firstError;
  }

  @Override
  public boolean exists(String key) {
    BlobStore.validateKey(key);
    for (Region r : List.of(active(), other(active()))) {
      try {
        if (r.store().exists(key)) return true;
      } catch (RuntimeException e) {
        failed(r, e);
      }
    }
    return false;
  }

  @Override
  public boolean delete(String key) {
    BlobStore.validateKey(key);
    boolean was = false;
    for (Region r : List.of(first, second)) {
      try {
        was |= r.store().delete(key);
        ok(r);
      } catch (RuntimeException e) {
        failed(r, e);
        queue.delete(key, r.name());
      }
    }
    return was;
  }

  /** The keys of both regions (either may lack some while copies are owed, or while it is down). */
  @Override
  public List<String> list(String prefix) {
    TreeSet<String> keys = new TreeSet<>();
    int answered = 0;
    RuntimeException last = null;
    for (Region r : List.of(first, second)) {
      try {
        keys.addAll(r.store().list(prefix));
        answered++;
        ok(r);
      } catch (IllegalArgumentException e) {
        throw e;
      } catch (RuntimeException e) {
        failed(r, e);
        last = e;
      }
    }
    if (answered == 0) throw last;
    return List.copyOf(keys);
  }

  @Override
  public String describe() {
    return "replicated(" + first.name() + "=" + first.store().describe() + ", " + second.name() + "=" + second.store().describe()
        + "; active " + choice.active() + ")";
  }

  /**
   * Makes the copies owed, oldest first. A failure counts against the region that failed: a source
   * that cannot be read skips its entries for this round, a target that cannot be written too. An
   * entry whose source bytes no longer match it (the blob rotted, or was rewritten since) is dropped:
   * no copy can ever satisfy it, and it must not hold up the others.
   */
  void replicate() {
    try {
      java.util.Set<String> failing = new java.util.HashSet<>();
      for (ReplicationQueue.Entry e : queue.pending(256)) {
        if (failing.contains(e.to()) || (e.from() != null && failing.contains(e.from()))) continue;
        Region to = region(e.to());
        if (!usable(to.name())) continue;
        if (e.delete()) {
          try {
            to.store().delete(e.key());
            ok(to);
            queue.done(e);
          } catch (RuntimeException x) {
            failing.add(to.name());
            failed(to, x);
          }
          continue;
        }
        Region from = region(e.from());
        InputStream in;
        try {
          in = from.store().open(e.ref());
        } catch (BlobException.NotFound gone) {
          queue.done(e); // deleted since: nothing to copy
          continue;
        } catch (RuntimeException x) {
          failing.add(from.name());
          failed(from, x);
          continue;
        }
        try (in) {
          to.store().put(e.key(), in);
          ok(to);
          copies.inc();
          queue.done(e);
        } catch (BlobException.Corrupt stale) {
          log.warn("owed copy of {} to region {} dropped: the source's bytes no longer match it ({})", e.key(), e.to(), stale.getMessage());
          dropped.inc();
          queue.done(e);
        } catch (IOException | RuntimeException x) {
          failing.add(to.name());
          if (x instanceof RuntimeException re) failed(to, re);
          log.debug("copy of {} to region {} failed: {}", e.key(), e.to(), x.toString());
        }
      }
    } catch (RuntimeException e) {
      log.warn("blob replication round failed: {}", e.toString());
    }
  }

  private void ok(Region r) {
    health.get(r.name()).ok();
  }

  private void failed(Region r, RuntimeException e) {
    if (e instanceof BlobException.NotFound || e instanceof BlobException.Corrupt) return;
    if (health.get(r.name()).failed(System.nanoTime())) {
      log.warn("storage region {} ({}) is failing: {}; sending to the other region", r.name(), r.store().describe(), e.getMessage());
    }
  }

  private static byte[] readAtMost(InputStream in, int limit) {
    try {
      return in.readNBytes(limit);
    } catch (IOException e) {
      throw new BlobException("cannot read the blob's bytes: " + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    replicator.shutdownNow();
    io.shutdownNow();
    first.store().close();
    second.store().close();
  }

  /** One region's health as this process sees it. */
  private static final class Health {
    private int failuresInARow;
    private long lastTriedNanos;

    /** Usable while it fails less than it takes to skip it; when skipped, one caller every 2 s gets to try it. */
    synchronized boolean usable(long now) {
      if (failuresInARow < FAILURES_TO_SKIP) return true;
      if (now - lastTriedNanos <= RETRY_DOWN_MS * 1_000_000) return false;
      lastTriedNanos = now; // this caller's request is the trial; the others keep skipping the region
      return true;
    }

    synchronized boolean isFailing() {
      return failuresInARow >= FAILURES_TO_SKIP;
    }

    synchronized void ok() {
      failuresInARow = 0;
    }

    /** Counts a failure; true when it is the one that makes the region skipped. */
    synchronized boolean failed(long now) {
      lastTriedNanos = now;
      return ++failuresInARow == FAILURES_TO_SKIP;
    }
  }
}
