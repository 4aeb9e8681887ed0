package io.bulwark.cli.bench;

import io.bulwark.azure.AzureBlobStore;
import io.bulwark.azure.AzuriteServer;
import io.bulwark.core.BulwarkException;
import io.bulwark.core.blob.BlobRef;
import io.bulwark.core.blob.BlobStore;
import io.bulwark.core.metrics.Metrics;
import io.bulwark.storage.FileSystemBlobStore;
import io.bulwark.storage.RegionChoice;
import io.bulwark.storage.ReplicatedBlobStore;
import io.bulwark.storage.ReplicationQueue;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The blob stores side by side in one run: the file system, one Azurite region, and two Azurite
 * regions replicated (inputs written to both before the put returns). 1 MiB blobs from 8 threads:
 * puts and gets per second, MB/s, put latency; then the replication lag of results under a steady
 * rate (the copy owed to the other region, sampled every 100 ms).
 */
public final class BlobBench {
  static final int SIZE = 1024 * 1024;
  static final int THREADS = 8;

  private final Path root;
  private final Duration each;
  private final List<Process> azurites = new ArrayList<>();

  public BlobBench(Path root, Duration each) {
    this.root = root;
    this.each = each;
  }

  public void run() throws Exception {
    if (!AzuriteServer.installed()) throw new BulwarkException("the blobs scenario runs Azurite: npm install -g azurite@3.37");
    try {
      BlobStore fs = new FileSystemBlobStore(root.resolve("blobs-fs"));
      BlobStore azureA = azurite("bencha");
      BlobStore azureB = azurite("benchb");
      ReplicatedBlobStore replicated = new ReplicatedBlobStore(new ReplicatedBlobStore.Region("a", azureA),
          new ReplicatedBlobStore.Region("b", azureB), new RegionChoice(root.resolve("storage-region"), "a"),
          new ReplicationQueue(root.resolve("replication")), ReplicatedBlobStore.DEFAULT_SYNCHRONOUS, new Metrics());
      System.out.printf("%nblobs: 1 MiB blobs, %d threads, %d s per store; put = write (and for replicated: both regions), get = read"
          + " back verified%n", THREADS, each.toSeconds());
      System.out.printf("  %-34s %10s %10s %10s %10s %10s%n", "store", "puts/s", "put MB/s", "put p50", "put p99", "get MB/s");
      measure("filesystem (fs:)", fs, "fs");
      measure("Azure, one region (Azurite)", azureA, "one");
      measure("Azure, two regions replicated", replicated, "two");
      lag(replicated);
      replicated.close();
      fs.close();
    } finally {
      for (Process p : azurites) p.destroyForcibly();
    }
  }

  private BlobStore azurite(String account) throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    String key = AzuriteServer.newKey();
    Path location = root.resolve("azurite-" + account);
    java.nio.file.Files.createDirectories(location);
    azurites.add(AzuriteServer.command(location, port, account, key).redirectErrorStream(true)
        .redirectOutput(root.resolve("azurite-" + account + ".log").toFile()).start());
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (true) {
      try {
        return AzureBlobStore.connect(AzuriteServer.connectionString(account, key, port), "bench", true);
      } catch (RuntimeException e) {
        if (System.nanoTime() > deadline) throw new BulwarkException("Azurite did not answer within 30 s: " + e.getMessage(), e);
        Thread.sleep(100); // polls Azurite's readiness against the deadline
      }
    }
  }

  private void measure(String label, BlobStore store, String prefix) throws Exception {
    byte[] data = new byte[SIZE];
    new Random(1).nextBytes(data);
    ConcurrentLinkedQueue<BlobRef> written = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<Long> latencies = new ConcurrentLinkedQueue<>();
    AtomicLong n = new AtomicLong();
    long start = System.nanoTime();
    long end = start + each.toNanos();
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < THREADS; t++) {
      threads.add(Thread.ofPlatform().start(() -> {
        while (System.nanoTime() < end) {
          long t0 = System.nanoTime();
          written.add(store.put("tasks/" + prefix + "-" + n.incrementAndGet() + "/input", data));
          latencies.add(System.nanoTime() - t0);
        }
      }));
    }
    for (Thread t : threads) t.join();
    double putSeconds = (System.nanoTime() - start) / 1e9;
    List<BlobRef> refs = new ArrayList<>(written);
    long gs = System.nanoTime();
    AtomicLong read = new AtomicLong();
    threads.clear();
    for (int t = 0; t < THREADS; t++) {
      int from = t;
      threads.add(Thread.ofPlatform().start(() -> {
        for (int i = from; i < refs.size(); i += THREADS) read.addAndGet(store.get(refs.get(i)).length);
      }));
    }
    for (Thread t : threads) t.join();
    double getSeconds = (System.nanoTime() - gs) / 1e9;
    long[] l = latencies.stream().mapToLong(Long::longValue).sorted().toArray();
    System.out.printf("  %-34s %10.1f %10.1f %8.1f ms %8.1f ms %10.1f%n", label, refs.size() / putSeconds, refs.size() * (SIZE / 1e6) / putSeconds,
        l[l.length / 2] / 1e6, l[(int) (l.length * 0.99)] / 1e6, read.get() / 1e6 / getSeconds);
  }

  /** Results (copied in the background) at a steady 20 per second for the run: the lag the replicator keeps. */
  private void lag(ReplicatedBlobStore store) throws Exception {
    byte[] data = new byte[SIZE];
    new Random(2).nextBytes(data);
    AtomicBoolean running = new AtomicBoolean(true);
    List<Long> samples = new ArrayList<>();
    Thread writer = Thread.ofPlatform().start(() -> {
      long due = System.nanoTime();
      for (int i = 0; running.get(); i++) {
        java.util.concurrent.locks.LockSupport.parkNanos(due - System.nanoTime());
        due += 50_000_000L;
        store.put("tasks/lag-" + i + "/result-1", data);
      }
    });
    long end = System.nanoTime() + each.toNanos();
    while (System.nanoTime() < end) {
      samples.add(store.lag().toMillis());
      Thread.sleep(100); // the sampling period
    }
    running.set(false);
    writer.join();
    long[] s = samples.stream().mapToLong(Long::longValue).sorted().toArray();
    System.out.printf("  replication lag of results at 20 x 1 MiB/s (oldest copy owed, sampled every 100 ms): p50 %d ms, p99 %d ms,"
        + " max %d ms%n", s[s.length / 2], s[(int) (s.length * 0.99)], s[s.length - 1]);
    System.out.println("  (target: p99 <= 5 s; Azure GRS: typically < 15 min, no SLA)");
  }
}
