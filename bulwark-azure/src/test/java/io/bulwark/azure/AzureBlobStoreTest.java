package io.bulwark.azure;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.azure.core.util.BinaryData;
import com.azure.storage.blob.BlobClient;
import com.azure.storage.blob.models.BlobHttpHeaders;
import com.azure.storage.blob.options.BlobParallelUploadOptions;
import io.bulwark.core.BulwarkException;
import io.bulwark.core.blob.BlobException;
import io.bulwark.core.blob.BlobRef;
import io.bulwark.core.blob.BlobStore;
import io.bulwark.testkit.Azurite;
import io.bulwark.testkit.BlobStoreContractTest;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The BlobStore contract and Azure specifics (integrity, key hygiene, refusals, region loss) against real Azurite. */
class AzureBlobStoreTest extends BlobStoreContractTest {
  private static final AtomicInteger CONTAINERS = new AtomicInteger();
  private static Azurite azurite;

  @BeforeAll
  static void startAzurite() {
    azurite = Azurite.start();
  }

  @AfterAll
  static void stopAzurite() {
    if (azurite != null) azurite.close();
  }

  private static String freshContainer() {
    return "c" + ProcessHandle.current().pid() + "-" + CONTAINERS.incrementAndGet();
  }

  @Override
  protected BlobStore newStore() {
    return AzureBlobStore.connect(azurite.connectionString(), freshContainer(), true);
  }

  /** Rewrites the blob's bytes with the SDK, keeping its metadata (the recorded sha256). */
  @Override
  protected void corrupt(BlobStore store, String key) {
    BlobClient blob = ((AzureBlobStore) store).container().getBlobClient(key);
    Map<String, String> metadata = blob.getProperties().getMetadata();
    byte[] bytes = blob.downloadContent().toBytes();
    bytes[bytes.length / 2] ^= 0x5a;
    blob.uploadWithResponse(new BlobParallelUploadOptions(BinaryData.fromBytes(bytes))
        .setMetadata(metadata).setHeaders(new BlobHttpHeaders()), null, com.azure.core.util.Context.NONE);
  }

  @Test
  void put_records_the_sha256_in_the_blob_metadata_and_describe_names_account_and_container() {
    BlobRef ref = store.put("meta/blob", "metadata".getBytes(UTF_8));
    BlobRef big = store.put("meta/big", new ByteArrayInputStream(randomBytes(9 * 1024 * 1024 + 17, 8)));

    AzureBlobStore azure = (AzureBlobStore) store;
    for (BlobRef r : new BlobRef[] {ref, big}) {
      assertThat(azure.container().getBlobClient(r.key()).getProperties().getMetadata())
          .containsEntry(AzureBlobStore.SHA256_METADATA, r.sha256());
    }
    assertThat(store.describe()).matches("azure://devstoreaccount1/c[0-9]+-[0-9]+");
    assertThat(store.toString()).contains(store.describe()).doesNotContain(Azurite.ACCOUNT_KEY);
  }

  @Test
  void bytes_overwritten_behind_the_stores_back_are_named_corrupt_with_both_hashes() {
    byte[] data = randomBytes(50_000, 9);
    BlobRef ref = store.put("tampered/blob", data);
    corrupt(store, "tampered/blob");

    Throwable thrown = catchThrowable(() -> store.get(ref));

    assertThat(thrown).isInstanceOf(BlobException.Corrupt.class)
        .hasMessageContaining("tampered/blob").hasMessageContaining(ref.sha256()).hasMessageContaining(store.describe());
    String actual = sha256(((AzureBlobStore) store).container().getBlobClient("tampered/blob").downloadContent().toBytes());
    assertThat(thrown).hasMessageContaining(actual);
  }

  @Test
  void a_multi_block_put_whose_input_fails_midway_commits_nothing_and_keeps_the_previous_blob() {
    BlobRef old = store.put("kept/big", "old".getBytes(UTF_8));

    assertThatThrownBy(() -> store.put("kept/big", failingAfter(9 * 1024 * 1024))).isInstanceOf(BlobException.class);
    assertThatThrownBy(() -> store.put("never/big", failingAfter(9 * 1024 * 1024))).isInstanceOf(BlobException.class);

    assertThat(store.get(old)).isEqualTo("old".getBytes(UTF_8));
    assertThat(store.exists("never/big")).isFalse();
    assertThat(store.list("")).containsExactly("kept/big");
  }

  @Test
  void a_wrong_account_key_is_refused_in_one_line_that_quotes_no_key() {
    String wrongKey = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3Jvbmc=";
    String wrong = azurite.connectionString().replace(Azurite.ACCOUNT_KEY, wrongKey);

    Throwable thrown = catchThrowable(() -> AzureBlobStore.validate(wrong, "anything"));

    // real Azure answers AuthenticationFailed; Azurite 3.37 answers AuthorizationFailure
    assertThat(thrown).isInstanceOf(BulwarkException.class).hasMessageMatching("Azure refused the account key of"
        + " devstoreaccount1 \\((AuthenticationFailed|AuthorizationFailure)\\): check the connection string");
    assertThat(fullTrace(thrown)).doesNotContain(wrongKey).doesNotContain(Azurite.ACCOUNT_KEY).doesNotContain(wrong);
  }

  @Test
  void a_malformed_connection_string_is_refused_without_quoting_it() {
    String bad = "AccountName=devstoreaccount1;AccountKey=" + Azurite.ACCOUNT_KEY + ";Nonsense";

    Throwable thrown = catchThrowable(() -> AzureBlobStore.validate(bad, "anything"));

    assertThat(thrown).isInstanceOf(BulwarkException.class).hasMessageStartingWith("invalid Azure Storage connection");
    assertThat(thrown.getMessage()).doesNotContain("\n");
    assertThat(fullTrace(thrown)).doesNotContain(Azurite.ACCOUNT_KEY);
  }

  @Test
  void a_missing_container_is_refused_in_one_line_unless_it_may_be_created() {
    String name = freshContainer();

    assertThatThrownBy(() -> AzureBlobStore.validate(azurite.connectionString(), name))
        .isInstanceOf(BulwarkException.class)
        .hasMessageStartingWith("Azure container '" + name + "' does not exist in storage account devstoreaccount1")
        .hasMessageContaining("createContainerIfMissing")
        .hasMessageNotContaining("\n");

    try (AzureBlobStore created = AzureBlobStore.connect(azurite.connectionString(), name, true)) {
      created.put("x", new byte[] {1});
    }
    AzureBlobStore.validate(azurite.connectionString(), name);
  }

  @Test
  void an_unreachable_endpoint_is_refused_in_one_line_within_seconds() throws IOException {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    String endpoint = "http://127.0.0.1:" + port + "/devstoreaccount1";
    String nobody = azurite.connectionString().replace(azurite.blobEndpoint(), endpoint);

    long start = System.nanoTime();
    Throwable thrown = catchThrowable(() -> AzureBlobStore.validate(nobody, "anything"));

    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
    assertThat(thrown).isInstanceOf(BulwarkException.class)
        .hasMessage("cannot reach Azure Blob endpoint " + endpoint + ": connection refused");
    assertThat(fullTrace(thrown)).doesNotContain(Azurite.ACCOUNT_KEY);
  }

  @Test
  void an_endpoint_that_accepts_connections_but_never_answers_fails_within_the_timeout() throws IOException {
    try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) { // never accepts or answers
      String endpoint = "http://127.0.0.1:" + silent.getLocalPort() + "/devstoreaccount1";
      String hanging = azurite.connectionString().replace(azurite.blobEndpoint(), endpoint);

      long start = System.nanoTime();
      Throwable thrown = catchThrowable(() -> AzureBlobStore.connect(hanging, "anything", false, Duration.ofSeconds(1)));

      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5)); // 2 tries of 1 s
      assertThat(thrown).isInstanceOf(BulwarkException.class)
          .hasMessage("cannot reach Azure Blob endpoint " + endpoint + ": no answer within 1000 ms");
    }
  }

  @Test
  void a_killed_azurite_fails_puts_fast_and_a_restarted_one_serves_again() throws Exception {
    try (Azurite region = Azurite.start();
        AzureBlobStore azure = AzureBlobStore.connect(region.connectionString(), "drill", true, Duration.ofSeconds(5))) {
      BlobRef before = azure.put("drill/before", "before".getBytes(UTF_8));
      region.kill();

      long start = System.nanoTime();
      Throwable thrown = catchThrowable(() -> azure.put("drill/during", randomBytes(100_000, 4)));

      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
      assertThat(thrown).isInstanceOf(BlobException.class)
          .hasMessageContaining("drill/during").hasMessageContaining("cannot reach Azure Blob endpoint");
      assertThatThrownBy(() -> azure.get(before)).isInstanceOf(BlobException.class);

      region.restart();
      // Azurite saves its metadata every 5 s, so the kill may have lost the container: ask as a deployment would
      try (AzureBlobStore again = AzureBlobStore.connect(region.connectionString(), "drill", true)) {
        BlobRef after = again.put("drill/after", "after".getBytes(UTF_8));
        assertThat(again.get(after)).isEqualTo("after".getBytes(UTF_8));
      }
      BlobRef afterOnOld = azure.put("drill/after-old-client", "same client".getBytes(UTF_8));
      assertThat(azure.get(afterOnOld)).isEqualTo("same client".getBytes(UTF_8));
    }
  }

  private static String fullTrace(Throwable t) {
    StringWriter out = new StringWriter();
    t.printStackTrace(new PrintWriter(out));
    return out.toString();
  }
}
