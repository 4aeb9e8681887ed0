package io.bulwark.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.bulwark.core.blob.BlobException;
import io.bulwark.core.blob.BlobRef;
import io.bulwark.core.blob.BlobStore;
import io.bulwark.core.metrics.Metrics;
import io.bulwark.testkit.BlobStoreContractTest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Two regions (two real file stores, one of which can be taken down): what a region's loss must not cost. */
class ReplicatedBlobStoreTest {
  static final byte[] DATA = "a task's input".getBytes(StandardCharsets.UTF_8);

  @TempDir Path dir;
  FaultyBlobStore a;
  FaultyBlobStore b;
  RegionChoice choice;
  ReplicatedBlobStore store;

  @BeforeEach
  void open() {
    a = new FaultyBlobStore(new FileSystemBlobStore(dir.resolve("region-a")));
    b = new FaultyBlobStore(new FileSystemBlobStore(dir.resolve("region-b")));
    choice = new RegionChoice(dir.resolve("run/storage-region"), "a");
    store = reopen();
  }

  ReplicatedBlobStore reopen() {
    return new ReplicatedBlobStore(new ReplicatedBlobStore.Region("a", a), new ReplicatedBlobStore.Region("b", b), choice,
        new ReplicationQueue(dir.resolve("queue")), ReplicatedBlobStore.DEFAULT_SYNCHRONOUS, new Metrics());
  }

  @AfterEach
  void close() {
    store.close();
  }

  @Test
  void a_task_input_is_in_both_regions_when_put_returns() {
    BlobRef ref = store.put("tasks/1/input", DATA);
    assertThat(a.inner.get(ref)).isEqualTo(DATA);
    assertThat(b.inner.get(ref)).isEqualTo(DATA);
    assertThat(store.queue().size()).isZero();
  }

  @Test
  void a_result_is_in_the_active_region_at_once_and_copied_to_the_other_in_the_background() {
    BlobRef ref = store.put("tasks/1/result-1", DATA);
    assertThat(a.inner.get(ref)).isEqualTo(DATA);
    await().atMost(Duration.ofSeconds(5)).until(() -> b.inner.exists(ref.key()));
    assertThat(b.inner.get(ref)).isEqualTo(DATA);
    await().atMost(Duration.ofSeconds(5)).until(() -> store.queue().size() == 0);
  }

  @Test
  void with_one_region_down_writes_go_on_and_the_copies_are_made_when_it_returns() {
    b.down = true;
    BlobRef input = store.put("tasks/2/input", DATA);
    BlobRef result = store.put("tasks/2/result-1", DATA);
    assertThat(store.get(input)).isEqualTo(DATA);
    assertThat(store.queue().size()).isEqualTo(2);
    assertThat(store.lag()).isPositive();
    b.down = false;
    await().atMost(Duration.ofSeconds(10)).until(() -> store.queue().size() == 0);
    assertThat(b.inner.get(input)).isEqualTo(DATA);
    assertThat(b.inner.get(result)).isEqualTo(DATA);
    assertThat(store.lag()).isZero();
  }

  @Test
  void with_the_active_region_down_writes_and_reads_use_the_other() {
    BlobRef before = store.put("tasks/3/input", DATA);
    a.down = true;
    BlobRef during = store.put("tasks/4/input", DATA);
    BlobRef result = store.put("tasks/4/result-1", DATA);
    assertThat(store.get(before)).isEqualTo(DATA);
    assertThat(store.get(during)).isEqualTo(DATA);
    assertThat(store.get(result)).isEqualTo(DATA);
    a.down = false;
    await().atMost(Duration.ofSeconds(10)).until(() -> store.queue().size() == 0);
    assertThat(a.inner.get(during)).isEqualTo(DATA);
  }

  @Test
  void a_region_that_hangs_costs_a_write_at_most_the_second_region_wait_and_then_nothing() {
    a.hung = new java.util.concurrent.CountDownLatch(1);
    try {
      long slowest = 0;
      for (int i = 0; i < 10; i++) {
        long t = System.nanoTime();
        BlobRef ref = store.put("tasks/h" + i + "/input", DATA);
        slowest = Math.max(slowest, System.nanoTime() - t);
        assertThat(b.inner.get(ref)).isEqualTo(DATA);
      }
      assertThat(slowest / 1_000_000).as("a submit waits for the hung region at most 2 s").isLessThan(3_000);
      assertThat(store.failing("a")).isTrue();
      long t = System.nanoTime();
      store.put("tasks/h10/input", DATA);
      assertThat((System.nanoTime() - t) / 1_000_000).as("once skipped, the hung region costs nothing").isLessThan(500);
      assertThat(store.queue().size()).isEqualTo(11);
    } finally {
      a.hung.countDown();
      a.hung = null;
    }
    await().atMost(Duration.ofSeconds(15)).until(() -> store.queue().size() == 0);
  }

  @Test
  void copies_owed_survive_a_restart() {
    b.down = true;
    BlobRef ref = store.put("tasks/5/input", DATA);
    store.close();
    b.down = false;
    store = reopen();
    await().atMost(Duration.ofSeconds(10)).until(() -> b.inner.exists(ref.key()));
    assertThat(b.inner.get(ref)).isEqualTo(DATA);
  }

  @Test
  void a_blob_corrupt_or_missing_in_one_region_is_served_from_the_other_and_repaired() throws Exception {
    BlobRef ref = store.put("tasks/6/input", DATA);
    Files.write(dir.resolve("region-a/tasks/6/input"), "A TASK'S INPUT".getBytes(StandardCharsets.UTF_8));
    assertThatThrownBy(() -> a.inner.get(ref)).isInstanceOf(BlobException.Corrupt.class);
    assertThat(store.get(ref)).isEqualTo(DATA);
    await().ignoreExceptions().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(a.inner.get(ref)).isEqualTo(DATA));
    b.inner.delete(ref.key());
    choice.switchTo("b", "test");
    assertThat(store.get(ref)).isEqualTo(DATA);
    await().atMost(Duration.ofSeconds(5)).until(() -> b.inner.exists(ref.key()));
  }

  @Test
  void a_stream_of_a_blob_corrupt_in_the_active_region_comes_from_the_other_and_repairs_it() throws Exception {
    BlobRef ref = store.put("wal/000000010000000000000009", DATA);
    Files.write(dir.resolve("region-a/wal/000000010000000000000009"), "A TASK'S INPUT".getBytes(StandardCharsets.UTF_8));
    try (java.io.InputStream in = store.open(ref)) {
      assertThat(in.readAllBytes()).isEqualTo(DATA);
    }
    await().ignoreExceptions().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(a.inner.get(ref)).isEqualTo(DATA));
  }

  @Test
  void the_deployments_region_choice_decides_where_writes_go_first() {
    choice.switchTo("b", "region a failed its checks");
    b.down = false;
    a.down = true;
    BlobRef ref = store.put("tasks/7/result-1", DATA);
    assertThat(b.inner.get(ref)).isEqualTo(DATA);
    assertThat(new RegionChoice(dir.resolve("run/storage-region"), "a").current().why()).isEqualTo("region a failed its checks");
  }

  @Test
  void both_regions_down_fails_the_write_naming_both() {
    a.down = true;
    b.down = true;
    assertThatThrownBy(() -> store.put("tasks/8/input", DATA)).isInstanceOf(BlobException.class)
        .hasMessageContaining("either storage region (a, b)");
  }

  @Test
  void list_merges_both_regions_and_survives_one_down() {
    store.put("wal/000000010000000000000001", DATA);
    b.down = true;
    store.put("wal/000000010000000000000002", DATA);
    assertThat(store.list("wal/")).containsExactly("wal/000000010000000000000001", "wal/000000010000000000000002");
    a.down = true;
    b.down = false;
    assertThat(store.list("wal/")).containsExactly("wal/000000010000000000000001");
  }

  RegionSwitcher switcher(boolean failback, java.util.List<String> switches) {
    RegionSwitcher s = new RegionSwitcher(store.regions(), choice, new RegionSwitcher.Config(Duration.ofMillis(100), 5, failback, 10), "test",
        (region, why) -> switches.add(region + ": " + why));
    s.start();
    return s;
  }

  @Test
  void the_deployment_switches_regions_after_a_window_of_failed_probes_not_after_a_blip() throws Exception {
    java.util.List<String> switches = new java.util.concurrent.CopyOnWriteArrayList<>();
    try (RegionSwitcher s = switcher(false, switches)) {
      await().atMost(Duration.ofSeconds(5)).until(() -> s.probes().get(0).passedInARow() >= 3);
      a.down = true;
      await().atMost(Duration.ofSeconds(5)).until(() -> s.probes().get(0).failedInARow() >= 2);
      a.down = false; // a blip: fewer failures than the window
      await().atMost(Duration.ofSeconds(5)).until(() -> s.probes().get(0).passedInARow() >= 2);
      assertThat(switches).isEmpty();
      long down = System.nanoTime();
      a.down = true;
      await().atMost(Duration.ofSeconds(5)).until(() -> choice.active().equals("b"));
      assertThat((System.nanoTime() - down) / 1_000_000).as("5 probes 100 ms apart").isLessThan(2_000);
      assertThat(switches).singleElement().asString().startsWith("b: region a failed 5 probes in a row").contains("region down");
      a.down = false;
      await().atMost(Duration.ofSeconds(5)).until(() -> s.probes().get(0).passedInARow() >= 15);
      assertThat(choice.active()).as("no failback by default").isEqualTo("b");
    }
  }

  @Test
  void failback_when_asked_for_after_the_first_region_passes_long_enough() {
    java.util.List<String> switches = new java.util.concurrent.CopyOnWriteArrayList<>();
    choice.switchTo("b", "test");
    try (RegionSwitcher s = switcher(true, switches)) {
      await().atMost(Duration.ofSeconds(5)).until(() -> choice.active().equals("a"));
      assertThat(switches).singleElement().asString().contains("failback: region a passed 10 probes in a row");
    }
  }

  @Test
  void a_source_region_that_is_down_is_not_blamed_on_the_healthy_target() {
    b.down = true;
    BlobRef owed = store.put("tasks/s1/result-1", DATA); // in a, owed to b
    b.down = false;
    a.down = true; // now the source of that copy is gone
    for (int i = 0; i < 10; i++) store.replicate();
    assertThat(store.failing("b")).as("b only answered well").isFalse();
    long t = System.nanoTime();
    BlobRef written = store.put("tasks/s2/input", DATA);
    assertThat(b.inner.get(written)).isEqualTo(DATA);
    assertThat((System.nanoTime() - t) / 1_000_000).isLessThan(3_000);
    a.down = false;
    await().atMost(Duration.ofSeconds(10)).until(() -> b.inner.exists(owed.key()));
  }

  @Test
  void an_owed_copy_whose_source_no_longer_matches_is_dropped_not_retried_forever() throws Exception {
    b.down = true;
    BlobRef ref = store.put("tasks/r1/result-1", DATA);
    Files.write(dir.resolve("region-a/tasks/r1/result-1"), "other bytes".getBytes(StandardCharsets.UTF_8));
    BlobRef next = store.put("tasks/r2/result-1", DATA);
    b.down = false;
    await().atMost(Duration.ofSeconds(10)).until(() -> store.queue().size() == 0);
    assertThat(b.inner.exists(ref.key())).isFalse();
    assertThat(b.inner.get(next)).as("the stale entry did not hold up the next one").isEqualTo(DATA);
  }

  @Test
  void the_queue_takes_any_key_and_skips_what_is_not_an_entry() throws Exception {
    ReplicationQueue q = new ReplicationQueue(dir.resolve("q2"));
    String longKey = "tasks/" + "k".repeat(250) + "/" + "x".repeat(250);
    q.copy(new BlobRef(longKey, 1, "0".repeat(64)), "a", "b");
    Files.writeString(dir.resolve("q2/leftover.b.tmp"), "copy\ntorn");
    Files.writeString(dir.resolve("q2/garbage.b"), "copy\nnot a timestamp\n");
    assertThat(q.pending(10)).singleElement().satisfies(e -> assertThat(e.key()).isEqualTo(longKey));
    assertThat(q.size()).isEqualTo(1);
    q.forget(longKey, "b");
    assertThat(q.size()).isZero();
  }

  /** The replicated store is a BlobStore like any other. */
  @Nested
  class Contract extends BlobStoreContractTest {
    @TempDir Path root;

    @Override
    protected BlobStore newStore() {
      return new ReplicatedBlobStore(new ReplicatedBlobStore.Region("a", new FileSystemBlobStore(root.resolve("a"))),
          new ReplicatedBlobStore.Region("b", new FileSystemBlobStore(root.resolve("b"))), new RegionChoice(root.resolve("choice"), "a"),
          new ReplicationQueue(root.resolve("queue")), k -> true, new Metrics());
    }

    @Override
    protected void corrupt(BlobStore s, String key) throws Exception {
      for (String region : new String[] {"a", "b"}) {
        Path f = root.resolve(region).resolve(key);
        byte[] bytes = Files.readAllBytes(f);
        bytes[0] ^= 1;
        Files.write(f, bytes);
      }
    }
  }
}
