package io.bulwark.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.bulwark.core.BulwarkException;
import io.bulwark.node.DataDir;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "submit", mixinStandardHelpOptions = true,
    description = {"Submit one task and print it.",
        "",
        "The API key comes from --key, else BULWARK_API_KEY, else DIR/admin.key."})
final class SubmitCommand implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Option(names = "--type", required = true, description = "Task type, e.g. sha256, echo, sleep")
  String type;

  @Option(names = "--input", defaultValue = "null", description = "Input as JSON, e.g. '\"hello\"' or '{\"ms\":500}' (default: null)")
  String input;

  @Option(names = "--wait", description = "Wait (up to 60 s) for the task to finish and print its final state")
  boolean await;

  @Option(names = "--url", defaultValue = "http://127.0.0.1:8080", description = "API base URL (default: ${DEFAULT-VALUE})")
  String url;

  @Option(names = "--key", description = "API key (prefer BULWARK_API_KEY: command lines are visible to other users)")
  String key;

  @Option(names = "--retry-for", defaultValue = "30s", paramLabel = "DURATION", converter = DurationConverter.class,
      description = "Keep retrying while the service answers 503 or cannot be reached, e.g. during a failover (default: ${DEFAULT-VALUE}; 0s: never)")
  Duration retryFor;

  @Option(names = "--data-dir", defaultValue = DataDir.DEFAULT, paramLabel = "DIR", description = "Where admin.key is (default: ./${DEFAULT-VALUE})")
  Path dataDir;

  @Option(names = "--cacert", paramLabel = "FILE",
      description = "Trust this PEM certificate for an https --url (default: DIR/tls/gateway.crt of `up --tls` when it exists, else the JDK's CAs)")
  Path cacert;

  @Override
  public Integer call() throws Exception {
    String apiKey = key != null ? key : System.getenv("BULWARK_API_KEY");
    DataDir dir = new DataDir(dataDir);
    if (apiKey == null && Files.exists(dir.adminKeyFile())) apiKey = DataDir.readSecret(dir.adminKeyFile());
    if (apiKey == null) throw new BulwarkException("no API key: pass --key, set BULWARK_API_KEY, or run from the directory holding " + DataDir.DEFAULT);
    JsonNode inputNode;
    try {
      inputNode = JSON.readTree(input);
    } catch (Exception e) {
      throw new BulwarkException("--input is not valid JSON (" + e.getMessage().split("\n")[0] + "); quote strings: --input '\"hello\"'");
    }
    ObjectNode body = JSON.createObjectNode().put("type", type);
    body.set("input", inputNode);
    HttpClient.Builder client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5));
    Path trust = cacert != null ? cacert : Files.exists(dir.tls().resolve("gateway.crt")) ? dir.tls().resolve("gateway.crt") : null;
    if (url.startsWith("https:") && trust != null) client.sslContext(io.bulwark.core.tls.Certificates.trusting(trust));
    HttpClient http = client.build();
    HttpRequest request = HttpRequest.newBuilder(URI.create(url + "/v1/tasks"))
        .header("Authorization", "Bearer " + apiKey).header("Content-Type", "application/json")
        .header("Idempotency-Key", java.util.UUID.randomUUID().toString())
        .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build();
    HttpResponse<String> created = submitRetrying(http, request);
    if (created.statusCode() >= 300) {
      System.err.println("bulwark: submit failed with HTTP " + created.statusCode() + ": " + created.body());
      return 1;
    }
    String shown = created.body();
    if (await) {
      String id = JSON.readTree(created.body()).path("id").asText();
      HttpResponse<String> done = http.send(HttpRequest.newBuilder(URI.create(url + "/v1/tasks/" + id + "?wait=60"))
          .header("Authorization", "Bearer " + apiKey).timeout(Duration.ofSeconds(70)).GET().build(),
          HttpResponse.BodyHandlers.ofString());
      shown = done.body();
    }
    System.out.println(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(JSON.readTree(shown)));
    return 0;
  }

  /**
   * Sends the submission, and sends it again while the service answers 503 (a database failover or
   * an API restart in progress) or cannot be reached, for up to {@code --retry-for}. Safe to repeat:
   * the request carries one Idempotency-Key, so the task is created once however often it is sent.
   */
  private HttpResponse<String> submitRetrying(HttpClient http, HttpRequest request) throws Exception {
    long deadline = System.nanoTime() + retryFor.toNanos();
    boolean told = false;
    while (true) {
      String why;
      try {
        HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 503) return response;
        if (System.nanoTime() > deadline) return response;
        why = "HTTP 503: " + response.body();
      } catch (javax.net.ssl.SSLHandshakeException e) {
        throw new BulwarkException("TLS handshake with " + url + " failed (" + e.getMessage() + "); pass --cacert FILE to trust a"
            + " self-signed certificate");
      } catch (java.io.IOException e) {
        if (System.nanoTime() > deadline) {
          throw new BulwarkException("cannot reach " + url + " (" + e.getClass().getSimpleName() + "); is `bulwark up`"
              + " running? Pass --url if the API listens elsewhere");
        }
        why = "cannot reach " + url + " (" + e.getClass().getSimpleName() + ")";
      }
      if (!told) System.err.println("bulwark: " + why.strip() + "; retrying for up to " + retryFor.toSeconds() + " s");
      told = true;
      Thread.sleep(250); // the retry interval while the service recovers (bounded by the deadline above)
    }
  }
}
