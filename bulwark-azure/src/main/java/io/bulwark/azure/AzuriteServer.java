package io.bulwark.azure;

import io.bulwark.core.BulwarkException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.stream.Stream;

/**
 * Azurite, Microsoft's Azure Storage emulator (npm {@code azurite}), as one storage "region" of
 * {@code bulwark up --storage azurite}: its blob service on a loopback port, its data in its own
 * directory, one storage account of our own ({@code AZURITE_ACCOUNTS}: not the well-known dev key), no
 * telemetry, and never outliving its supervisor ({@code setpriv --pdeathsig SIGKILL}).
 */
public final class AzuriteServer {
  private AzuriteServer() {}

  /** Whether {@code azurite-blob} is installed. */
  public static boolean installed() {
    return find() != null;
  }

  private static String find() {
    return Stream.of("/usr/bin/azurite-blob", "/usr/local/bin/azurite-blob").filter(p -> Files.isExecutable(Path.of(p))).findFirst()
        .orElse(null);
  }

  /** A new account key (Azure's are 64 random bytes, base64). */
  public static String newKey() {
    byte[] key = new byte[64];
    new SecureRandom().nextBytes(key);
    return Base64.getEncoder().encodeToString(key);
  }

  /** The command that runs one region's Azurite in the foreground. */
  public static ProcessBuilder command(Path location, int port, String account, String key) {
    String binary = find();
    if (binary == null) {
      throw new BulwarkException("--storage azurite needs Azurite: npm install -g azurite@3.37 (Node.js 18+); or run without --storage");
    }
    List<String> cmd = new ArrayList<>(List.of("setpriv", "--pdeathsig", "SIGKILL", binary, "--blobHost", "127.0.0.1",
        "--blobPort", Integer.toString(port), "--location", location.toString(), "--silent", "--skipApiVersionCheck", "--loose",
        "--disableTelemetry", "--disableProductStyleUrl"));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().put("AZURITE_ACCOUNTS", account + ":" + key);
    return pb;
  }

  /** The connection string of {@code account} on the Azurite at {@code port}. */
  public static String connectionString(String account, String key, int port) {
    return "DefaultEndpointsProtocol=http;AccountName=" + account + ";AccountKey=" + key + ";BlobEndpoint=http://127.0.0.1:" + port + "/"
        + account + ";";
  }
}
