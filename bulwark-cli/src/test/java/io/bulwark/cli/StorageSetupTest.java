package io.bulwark.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.bulwark.testkit.Azurite;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A wrong storage set-up stops an API server or worker at start with one line saying which and how to
 * fix it, before it touches the database: against a real Azurite.
 */
@ParallelSafe
class StorageSetupTest {
  @TempDir static Path work;
  static Azurite azurite;

  @BeforeAll
  static void start() {
    azurite = Azurite.start();
  }

  @AfterAll
  static void stop() {
    if (azurite != null) azurite.close();
  }

  /** Runs `bulwark worker` with these storage flags and environment: exit code, then its output. */
  static String worker(Map<String, String> env, String... storage) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "-Xmx96m",
        "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), Main.class.getName(), "worker",
        "--jdbc-url", "jdbc:postgresql://127.0.0.1:1/none", "--db-user", "nobody"));
    cmd.addAll(List.of(storage));
    Path out = Files.createTempFile(work, "worker", ".out");
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile());
    pb.environment().put("BULWARK_DB_PASSWORD", "unused");
    pb.environment().putAll(env);
    Process p = pb.start();
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("the worker stops at once").isTrue();
    return p.exitValue() + "\n" + Files.readString(out);
  }

  static void refusedInOneLine(String out, String... contains) {
    assertThat(out).startsWith("1\n").contains(contains);
    assertThat(out.lines().filter(l -> l.startsWith("bulwark: ")).count()).as(out).isEqualTo(1);
    assertThat(out).doesNotContain(Azurite.ACCOUNT_KEY);
  }

  static String connection(int port, String key) {
    return "DefaultEndpointsProtocol=http;AccountName=" + Azurite.ACCOUNT + ";AccountKey=" + key + ";BlobEndpoint=http://127.0.0.1:"
        + port + "/" + Azurite.ACCOUNT + ";";
  }

  static final String VARIABLE = "BULWARK_AZURE_CONNECTION_STRING_DEVSTOREACCOUNT1";

  @Test
  void an_unknown_scheme_is_refused_naming_the_schemes_there_are() throws Exception {
    refusedInOneLine(worker(Map.of(), "--blobs", "s3://bucket/blobs"), "unknown scheme 's3'", "file:/", "azure://ACCOUNT/CONTAINER");
  }

  @Test
  void an_azure_account_without_a_connection_string_is_refused_naming_the_variable() throws Exception {
    refusedInOneLine(worker(Map.of(), "--blobs", "azure://devstoreaccount1/blobs"), "no connection string for Azure account", VARIABLE);
  }

  @Test
  void an_unreachable_endpoint_a_wrong_key_and_a_missing_container_are_each_refused() throws Exception {
    refusedInOneLine(worker(Map.of(VARIABLE, connection(1, Azurite.ACCOUNT_KEY)), "--blobs", "azure://devstoreaccount1/blobs"),
        "cannot reach Azure Blob endpoint");
    String wrongKey = java.util.Base64.getEncoder().encodeToString(new byte[64]);
    String out = worker(Map.of(VARIABLE, connection(azurite.port(), wrongKey)), "--blobs", "azure://devstoreaccount1/blobs");
    refusedInOneLine(out, "refused the account key of devstoreaccount1");
    assertThat(out).doesNotContain(wrongKey);
    refusedInOneLine(worker(Map.of(VARIABLE, connection(azurite.port(), Azurite.ACCOUNT_KEY)), "--blobs", "azure://devstoreaccount1/nothere"),
        "container 'nothere' does not exist");
  }

  @Test
  void two_regions_need_names_and_state_and_both_down_is_refused() throws Exception {
    refusedInOneLine(worker(Map.of(), "--blobs", "file:" + work.resolve("x"), "--blobs", "file:" + work.resolve("y")), "need region names");
    refusedInOneLine(worker(Map.of(), "--blobs", "a=file:" + work.resolve("x"), "--blobs", "b=file:" + work.resolve("y")),
        "need --storage-state DIR");
    refusedInOneLine(worker(Map.of(VARIABLE, connection(1, Azurite.ACCOUNT_KEY)), "--blobs", "a=azure://devstoreaccount1/blobs", "--blobs",
        "b=azure://devstoreaccount1/other", "--storage-state", work.resolve("state").toString()), "neither storage region answers");
  }

  @Test
  void storage_commands_without_regions_say_how_to_get_them() {
    String out = DatabaseFailoverDrillTest.cli("storage", "status", "--data-dir", work.resolve("none").toString());
    assertThat(out).startsWith("1\n").contains("no storage regions", "--storage azurite");
  }
}
