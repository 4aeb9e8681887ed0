package io.bulwark.storage;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import io.bulwark.core.blob.BlobException;
import io.bulwark.core.blob.BlobRef;
import io.bulwark.core.blob.BlobStore;
import io.bulwark.testkit.BlobStoreContractTest;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class FileSystemBlobStoreTest extends BlobStoreContractTest {

  @TempDir Path tmp;

  private Path root;

  @Override
  protected BlobStore newStore() throws IOException {
    root = tmp.toRealPath().resolve("blobs");
    return new FileSystemBlobStore(root);
  }

  @Override
  protected void corrupt(BlobStore store, String key) throws IOException {
    Path file = root.resolve(key);
    byte[] bytes = Files.readAllBytes(file);
    bytes[bytes.length / 2] ^= 0x5a;
    Files.write(file, bytes);
  }

  @Test
  void the_root_is_created_if_missing_and_named_by_describe() {
    Path nested = tmp.resolve("x/y/z");
    BlobStore store = new FileSystemBlobStore(nested);

    assertThat(nested).isDirectory();
    assertThat(store.describe()).startsWith("fs:").endsWith("z");
  }

  @Test
  void a_key_maps_to_the_file_at_that_path_under_the_root() throws IOException {
    store.put("a/b/c", "data".getBytes(UTF_8));

    assertThat(Files.readString(root.resolve("a/b/c"))).isEqualTo("data");
  }

  @Test
  void no_temp_files_remain_after_puts() throws Exception {
    store.put("t/one", new byte[] {1});
    store.put("t/one", new byte[] {2});
    store.put("t/two", new ByteArrayInputStream(randomBytes(300_000, 5)));
    inParallel(8, i -> store.put("t/three", randomBytes(50_000, i)));
    assertThatThrownBy(() -> store.put("t/four", failingAfter(10_000))).isInstanceOf(BlobException.class);
    assertThatThrownBy(() -> store.put("new-dir/five", failingAfter(10))).isInstanceOf(BlobException.class);

    assertThat(allFiles()).containsExactlyInAnyOrder("t/one", "t/three", "t/two");
  }

  @ParameterizedTest
  @ValueSource(strings = {"../escape", "a/../../escape", "..", "/etc/passwd", "a/..", "./a"})
  void a_key_cannot_escape_the_root(String key) throws IOException {
    assertThatThrownBy(() -> store.put(key, new byte[] {1})).isInstanceOf(IllegalArgumentException.class);

    try (Stream<Path> siblings = Files.list(tmp)) {
      assertThat(siblings.map(p -> p.getFileName().toString())).containsExactly("blobs");
    }
    assertThat(allFiles()).isEmpty();
  }

  @Test
  void list_skips_temp_files_left_by_a_crash_and_other_stray_files() throws IOException {
    store.put("k/blob", new byte[] {1});
    Files.write(root.resolve("k/.tmp-deadbeef"), new byte[] {2});
    Files.write(root.resolve(".DS_Store"), new byte[] {3});

    assertThat(store.list("")).containsExactly("k/blob");
    assertThat(store.list("k/")).containsExactly("k/blob");
  }

  @Test
  void delete_removes_directories_it_leaves_empty_but_keeps_the_root() throws IOException {
    store.put("x/y/z", new byte[] {1});
    store.put("x/keep", new byte[] {2});

    assertThat(store.delete("x/y/z")).isTrue();
    assertThat(root.resolve("x/y")).doesNotExist();
    assertThat(root.resolve("x/keep")).exists();

    assertThat(store.delete("x/keep")).isTrue();
    assertThat(root).isDirectory();
    try (Stream<Path> entries = Files.list(root)) {
      assertThat(entries).isEmpty();
    }
  }

  @Test
  void a_key_cannot_be_both_a_blob_and_a_directory_of_blobs() {
    BlobRef a = store.put("a", new byte[] {1});
    BlobRef ab = store.put("b/c", new byte[] {2});

    assertThatThrownBy(() -> store.put("a/x", new byte[] {3}))
        .isInstanceOf(BlobException.class)
        .hasMessageContaining("a/x");
    assertThatThrownBy(() -> store.put("b", new byte[] {4}))
        .isInstanceOf(BlobException.class)
        .hasMessageContaining("directory");
    assertThat(store.exists("b")).isFalse();
    assertThat(store.delete("b")).isFalse();
    assertThat(store.exists("a/x")).isFalse();
    assertThatThrownBy(() -> store.get(new BlobRef("a/x", 1, a.sha256())))
        .isInstanceOf(BlobException.NotFound.class);

    assertThat(store.get(a)).containsExactly(1);
    assertThat(store.get(ab)).containsExactly(2);
    assertThat(store.list("")).containsExactly("a", "b/c");
  }

  @Test
  void a_read_only_root_fails_with_the_path_and_a_remedy() throws IOException {
    assumeThat(System.getProperty("user.name")).as("root ignores permissions").isNotEqualTo("root");
    assumeThat(root.toFile().setWritable(false)).isTrue();
    try {
      assertThatThrownBy(() -> store.put("ro/blob", new byte[] {1}))
          .isInstanceOf(BlobException.class)
          .hasMessageContaining(root.toString())
          .hasMessageContaining("may read and write");
    } finally {
      root.toFile().setWritable(true);
    }
  }

  /** Every regular file under the root, as '/'-separated relative paths, temp files included. */
  private List<String> allFiles() throws IOException {
    try (Stream<Path> files = Files.walk(root)) {
      return files.filter(Files::isRegularFile)
          .map(p -> root.relativize(p).toString().replace('\\', '/'))
          .sorted()
          .toList();
    }
  }

  @Test
  void blobs_and_a_new_store_root_are_private_to_the_bulwark_user(@TempDir Path dir) throws Exception {
    Path root = dir.resolve("new-root");
    FileSystemBlobStore fs = new FileSystemBlobStore(root);
    fs.put("tasks/x/input", new ByteArrayInputStream("secret".getBytes(UTF_8)));
    assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(root))).isEqualTo("rwx------");
    try (Stream<Path> files = Files.walk(root)) {
      for (Path f : files.filter(Files::isRegularFile).toList()) {
        assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(f))).as(f.toString())
            .isEqualTo("rw-------");
      }
    }
  }
}
