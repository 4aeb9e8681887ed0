package io.bulwark.testkit;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bulwark.core.blob.BlobException;
import io.bulwark.core.blob.BlobRef;
import io.bulwark.core.blob.BlobStore;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The behaviour every {@link BlobStore} backend must have. A backend's test extends this class,
 * returns a fresh, empty store from {@link #newStore()} (called before every test) and implements
 * {@link #corrupt} so the checksum tests can damage a stored blob behind the store's back.
 *
 * <p>Ships in the {@code bulwark-storage} test-jar.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
public abstract class BlobStoreContractTest {

  /** The store under test, from {@link #newStore()}; closed after each test. */
  protected BlobStore store;

  /** Returns a new, empty store. Called once per test. */
  protected abstract BlobStore newStore() throws Exception;

  /**
   * Changes some bytes of the blob stored under key without changing its length, bypassing the
   * store's API (e.g. by rewriting the file or object directly). Only called for non-empty blobs.
   */
  protected abstract void corrupt(BlobStore store, String key) throws Exception;

  @BeforeEach
  void createStore() throws Exception {
    store = newStore();
  }

  @AfterEach
  void closeStore() {
    if (store != null) store.close();
  }

  // ---- round trips ----

  @Test
  void put_then_get_returns_the_same_bytes_with_their_size_and_sha256() throws Exception {
    byte[] data = "hello, bulwark".getBytes(UTF_8);

    BlobRef ref = store.put("tasks/t1/input", data);

    assertThat(ref.key()).isEqualTo("tasks/t1/input");
    assertThat(ref.size()).isEqualTo(data.length);
    assertThat(ref.sha256()).isEqualTo(sha256(data));
    assertThat(store.get(ref)).isEqualTo(data);
    try (InputStream in = store.open(ref)) {
      assertThat(in.readAllBytes()).isEqualTo(data);
    }
    assertThat(store.exists("tasks/t1/input")).isTrue();
  }

  @Test
  void an_empty_blob_can_be_stored_and_read() throws Exception {
    BlobRef ref = store.put("empty", new byte[0]);

    assertThat(ref.size()).isZero();
    assertThat(ref.sha256()).isEqualTo(sha256(new byte[0]));
    assertThat(store.get(ref)).isEmpty();
    try (InputStream in = store.open(ref)) {
      assertThat(in.read()).isEqualTo(-1);
    }
  }

  @Test
  void a_20_MiB_blob_streams_through_put_and_open() throws Exception {
    byte[] data = randomBytes(20 * 1024 * 1024, 42);

    BlobRef ref = store.put("big/blob", new ByteArrayInputStream(data));

    assertThat(ref.size()).isEqualTo(data.length);
    assertThat(ref.sha256()).isEqualTo(sha256(data));
    MessageDigest digest = MessageDigest.getInstance("SHA-256");
    long total = 0;
    try (InputStream in = store.open(ref)) {
      byte[] buf = new byte[8191];
      for (int n; (n = in.read(buf)) != -1; total += n) digest.update(buf, 0, n);
    }
    assertThat(total).isEqualTo(data.length);
    assertThat(HexFormat.of().formatHex(digest.digest())).isEqualTo(ref.sha256());
  }

  @Test
  void put_replaces_an_existing_key() {
    BlobRef first = store.put("k", "first version".getBytes(UTF_8));
    BlobRef second = store.put("k", "second".getBytes(UTF_8));

    assertThat(store.get(second)).isEqualTo("second".getBytes(UTF_8));
    assertThatThrownBy(() -> store.get(first)).isInstanceOf(BlobException.Corrupt.class);
    assertThat(store.list("")).containsExactly("k");
  }

  // ---- missing and corrupt blobs ----

  @Test
  void get_of_a_missing_key_throws_NotFound() {
    BlobRef ref = new BlobRef("no/such/blob", 3, sha256("abc".getBytes(UTF_8)));

    assertThatThrownBy(() -> store.get(ref))
        .isInstanceOf(BlobException.NotFound.class)
        .hasMessageContaining("no/such/blob");
  }

  @Test
  void open_of_a_missing_key_throws_NotFound() {
    BlobRef ref = new BlobRef("no/such/blob", 3, sha256("abc".getBytes(UTF_8)));

    assertThatThrownBy(() -> store.open(ref).close()).isInstanceOf(BlobException.NotFound.class);
  }

  @Test
  void corrupted_bytes_make_get_throw_Corrupt() throws Exception {
    BlobRef ref = store.put("c/blob", randomBytes(10_000, 1));
    corrupt(store, "c/blob");

    assertThatThrownBy(() -> store.get(ref))
        .isInstanceOf(BlobException.Corrupt.class)
        .hasMessageContaining("c/blob")
        .hasMessageContaining(ref.sha256());
  }

  @Test
  void corrupted_bytes_make_reading_an_opened_stream_to_the_end_throw_Corrupt() throws Exception {
    BlobRef ref = store.put("c/blob", randomBytes(100_000, 2));
    corrupt(store, "c/blob");

    try (InputStream in = store.open(ref)) {
      assertThatThrownBy(in::readAllBytes).isInstanceOf(BlobException.Corrupt.class);
    }
  }

  @Test
  void a_ref_with_a_wrong_size_throws_Corrupt() throws Exception {
    byte[] data = "twelve bytes".getBytes(UTF_8);
    BlobRef ref = store.put("s", data);

    for (long size : new long[] {data.length - 1, data.length + 1}) {
      BlobRef wrong = new BlobRef("s", size, ref.sha256());
      assertThatThrownBy(() -> store.get(wrong)).isInstanceOf(BlobException.Corrupt.class);
      try (InputStream in = store.open(wrong)) {
        assertThatThrownBy(in::readAllBytes).isInstanceOf(BlobException.Corrupt.class);
      }
    }
  }

  @Test
  void a_ref_with_a_wrong_sha256_throws_Corrupt() throws Exception {
    byte[] data = "some bytes".getBytes(UTF_8);
    store.put("h", data);
    BlobRef wrong = new BlobRef("h", data.length, sha256("other byte".getBytes(UTF_8)));

    assertThatThrownBy(() -> store.get(wrong)).isInstanceOf(BlobException.Corrupt.class);
    try (InputStream in = store.open(wrong)) {
      assertThatThrownBy(in::readAllBytes).isInstanceOf(BlobException.Corrupt.class);
    }
  }

  // ---- keys ----

  static Stream<String> invalidKeys() {
    return Stream.of("", "/abs", "../x", "a/../b", "a//b", "a/./b", "a/", "x".repeat(513),
        "a\\b", "a\u0000b");
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @MethodSource("invalidKeys")
  void invalid_keys_are_rejected(String key) {
    assertThatThrownBy(() -> store.put(key, new byte[] {1})).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> store.exists(key)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> store.delete(key)).isInstanceOf(IllegalArgumentException.class);
    assertThat(store.list("")).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(strings = {"tasks/0190-abc/input", "wal/000000010000000000000001.gz", "_x/a=b/c.d-e"})
  void valid_keys_are_accepted(String key) {
    BlobRef ref = store.put(key, key.getBytes(UTF_8));

    assertThat(store.get(ref)).isEqualTo(key.getBytes(UTF_8));
    assertThat(store.list("")).containsExactly(key);
  }

  @Test
  void a_key_of_exactly_512_characters_is_accepted() {
    String key = String.join("/", Collections.nCopies(8, "k".repeat(63))) + "k";
    assertThat(key).hasSize(BlobStore.MAX_KEY_LENGTH);

    BlobRef ref = store.put(key, new byte[] {7});

    assertThat(store.get(ref)).containsExactly(7);
  }

  @Test
  void a_key_segment_longer_than_a_file_name_may_be_is_rejected() {
    String key = "tasks/" + "s".repeat(BlobStore.MAX_SEGMENT_LENGTH + 1);

    assertThatThrownBy(() -> store.put(key, new byte[] {1}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("the limit is " + BlobStore.MAX_SEGMENT_LENGTH);
  }

  // ---- list, exists, delete ----

  @Test
  void list_returns_exactly_the_keys_under_the_prefix_in_order() {
    for (String key : List.of("tasks10/x", "tasks/2/input", "other/y", "tasks/1/output", "tasks/1/input")) {
      store.put(key, key.getBytes(UTF_8));
    }

    assertThat(store.list("tasks/")).containsExactly("tasks/1/input", "tasks/1/output", "tasks/2/input");
    assertThat(store.list("tasks/1/")).containsExactly("tasks/1/input", "tasks/1/output");
    assertThat(store.list("tasks/1/in")).containsExactly("tasks/1/input");
    assertThat(store.list("tasks"))
        .containsExactly("tasks/1/input", "tasks/1/output", "tasks/2/input", "tasks10/x");
    assertThat(store.list(""))
        .containsExactly("other/y", "tasks/1/input", "tasks/1/output", "tasks/2/input", "tasks10/x");
    assertThat(store.list("nothing/")).isEmpty();
    assertThat(store.list("tasks/3")).isEmpty();
  }

  @Test
  void delete_returns_true_then_false_and_exists_follows() {
    assertThat(store.exists("d/blob")).isFalse();
    BlobRef ref = store.put("d/blob", new byte[] {1, 2, 3});
    BlobRef sibling = store.put("d/sibling", new byte[] {4});
    assertThat(store.exists("d/blob")).isTrue();

    assertThat(store.delete("d/blob")).isTrue();
    assertThat(store.exists("d/blob")).isFalse();
    assertThat(store.delete("d/blob")).isFalse();
    assertThatThrownBy(() -> store.get(ref)).isInstanceOf(BlobException.NotFound.class);
    assertThat(store.list("d/")).containsExactly("d/sibling");
    assertThat(store.get(sibling)).containsExactly(4);

    assertThat(store.delete("d/sibling")).isTrue();
    assertThat(store.list("")).isEmpty();
    assertThat(store.get(store.put("d/blob", new byte[] {9}))).containsExactly(9);
  }

  @Test
  void delete_of_a_key_that_never_existed_returns_false() {
    assertThat(store.delete("never/was")).isFalse();
  }

  // ---- concurrency and failures ----

  @Test
  void concurrent_puts_of_identical_content_to_one_key_leave_one_complete_blob() throws Exception {
    byte[] data = randomBytes(1024 * 1024, 3);
    List<BlobRef> refs = inParallel(8, i -> store.put("same/key", new ByteArrayInputStream(data)));

    assertThat(refs).allSatisfy(ref -> assertThat(store.get(ref)).isEqualTo(data));
    assertThat(store.list("")).containsExactly("same/key");
  }

  @Test
  void concurrent_puts_of_different_content_to_one_key_leave_exactly_one_writers_blob() throws Exception {
    List<BlobRef> refs = inParallel(8, i -> store.put("same/key", randomBytes(256 * 1024, 100 + i)));

    int readable = 0;
    for (BlobRef ref : refs) {
      try {
        assertThat(sha256(store.get(ref))).isEqualTo(ref.sha256());
        readable++;
      } catch (BlobException.Corrupt replacedByAnotherWriter) {
        // expected for every writer but the last
      }
    }
    assertThat(readable).isEqualTo(1);
    assertThat(store.list("")).containsExactly("same/key");
  }

  @Test
  void concurrent_puts_of_different_keys_are_all_readable() throws Exception {
    List<List<BlobRef>> perThread = inParallel(8, t -> {
      List<BlobRef> refs = new ArrayList<>();
      for (int i = 0; i < 25; i++) {
        refs.add(store.put("par/" + (i % 5) + "/t" + t + "-" + i, ("blob " + t + "/" + i).getBytes(UTF_8)));
      }
      return refs;
    });

    List<BlobRef> all = perThread.stream().flatMap(List::stream).toList();
    assertThat(all).hasSize(200);
    for (BlobRef ref : all) {
      String[] parts = ref.key().substring(ref.key().lastIndexOf('/') + 2).split("-");
      assertThat(new String(store.get(ref), UTF_8)).isEqualTo("blob " + parts[0] + "/" + parts[1]);
    }
    assertThat(store.list("par/")).hasSize(200).isSorted();
  }

  @Test
  void puts_and_deletes_racing_in_one_directory_all_succeed() throws Exception {
    inParallel(4, t -> {
      for (int i = 0; i < 200; i++) {
        String key = "race/dir/t" + t;
        byte[] data = ("v" + i).getBytes(UTF_8);
        assertThat(store.get(store.put(key, data))).isEqualTo(data);
        assertThat(store.delete(key)).isTrue();
      }
      return null;
    });

    assertThat(store.list("")).isEmpty();
  }

  @Test
  void a_put_whose_input_fails_midway_stores_nothing() {
    assertThatThrownBy(() -> store.put("failed/blob", failingAfter(100_000)))
        .isInstanceOf(BlobException.class);

    assertThat(store.exists("failed/blob")).isFalse();
    assertThat(store.list("")).isEmpty();
  }

  @Test
  void a_put_whose_input_fails_midway_keeps_the_previous_blob() {
    BlobRef old = store.put("kept", "old".getBytes(UTF_8));

    assertThatThrownBy(() -> store.put("kept", failingAfter(100_000))).isInstanceOf(BlobException.class);

    assertThat(store.get(old)).isEqualTo("old".getBytes(UTF_8));
    assertThat(store.list("")).containsExactly("kept");
  }

  // ---- helpers ----

  protected static String sha256(byte[] data) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }

  protected static byte[] randomBytes(int size, long seed) {
    byte[] data = new byte[size];
    new Random(seed).nextBytes(data);
    return data;
  }

  /** A stream that yields {@code size} bytes, then throws an IOException. */
  protected static InputStream failingAfter(int size) {
    return new InputStream() {
      private int served;

      @Override
      public int read() throws IOException {
        if (served++ >= size) throw new IOException("simulated source failure");
        return 'x';
      }
    };
  }

  /** A task run once per thread index. */
  protected interface IndexedTask<T> {
    T run(int index) throws Exception;
  }

  /** Runs task(0..threads-1) on that many threads released together; returns results in order. */
  protected static <T> List<T> inParallel(int threads, IndexedTask<T> task) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      CyclicBarrier start = new CyclicBarrier(threads);
      List<Future<T>> futures = IntStream.range(0, threads)
          .mapToObj(i -> pool.submit((Callable<T>) () -> {
            start.await(10, TimeUnit.SECONDS);
            return task.run(i);
          }))
          .toList();
      List<T> results = new ArrayList<>();
      for (Future<T> f : futures) results.add(f.get(60, TimeUnit.SECONDS));
      return results;
    } finally {
      pool.shutdownNow();
    }
  }
}
