package io.bulwark.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bulwark.core.BulwarkException;
import io.bulwark.core.tls.Certificates;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The proxy's port serving HTTPS from PEM files (issue 10: no TLS anywhere). */
class TlsTest {
  @TempDir static Path dir;
  static Path cert;
  static Path key;

  @BeforeAll
  static void makeCertificate() {
    cert = dir.resolve("gateway.crt");
    key = dir.resolve("gateway.key");
    Certificates.writeSelfSigned(cert, key, "localhost", List.of("localhost"), List.of("127.0.0.1"), 30);
  }

  static HttpClient trusting(Path pem) {
    return HttpClient.newBuilder().sslContext(Certificates.trusting(pem)).connectTimeout(Duration.ofSeconds(5)).build();
  }

  @Test
  void the_self_signed_key_is_private_to_its_owner() throws IOException {
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(key))).isEqualTo("rw-------");
    assertThat(Files.readString(key)).startsWith("-----BEGIN PRIVATE KEY-----");
    assertThat(Certificates.read(cert)).hasSize(1);
  }

  @Test
  void https_requests_are_proxied_and_the_server_is_told_the_client_used_https() throws Exception {
    try (GatewayFixture fx = GatewayFixture.mainAndBackup(c -> c.withTls(new GatewayConfig.Tls(cert, key)))) {
      HttpResponse<String> r = trusting(cert).send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + fx.gateway.port() + "/hello"))
          .POST(HttpRequest.BodyPublishers.ofString("payload")).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.body()).isEqualTo("payload");
      assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_1_1);
      FakeBackend.Received seen = fx.main().received.stream().filter(x -> x.pathQuery().equals("/hello")).findFirst().orElseThrow();
      assertThat(seen.header("X-Forwarded-Proto")).isEqualTo("https");

      // a client that does not trust the certificate is refused at the handshake
      assertThatThrownBy(() -> HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + fx.gateway.port() + "/hello"))
          .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString())).isInstanceOf(SSLHandshakeException.class);

      // plain HTTP to the HTTPS port gets no answer in clear (the connection is closed), and the gateway goes on
      try (Socket s = new Socket("127.0.0.1", fx.gateway.port())) {
        s.setSoTimeout(10_000);
        OutputStream out = s.getOutputStream();
        out.write("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        InputStream in = s.getInputStream();
        byte[] got = in.readNBytes(64);
        assertThat(new String(got, StandardCharsets.ISO_8859_1)).doesNotContain("HTTP/1.1 200");
      }
      HttpResponse<String> again = trusting(cert).send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + fx.gateway.port() + "/hello"))
          .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(again.statusCode()).isEqualTo(200);
    }
  }

  @Test
  void unreadable_or_wrong_files_are_refused_at_start_naming_the_file() throws IOException {
    Path missing = dir.resolve("nope.key");
    assertThatThrownBy(() -> Gateway.tlsContext(new GatewayConfig.Tls(cert, missing)))
        .isInstanceOf(BulwarkException.class).hasMessageContaining("cannot read the TLS key " + missing);
    Path notAKey = dir.resolve("not-a-key.pem");
    Files.writeString(notAKey, "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n");
    assertThatThrownBy(() -> Gateway.tlsContext(new GatewayConfig.Tls(cert, notAKey)))
        .isInstanceOf(BulwarkException.class).hasMessageContaining(notAKey.toString()).hasMessageContaining("PKCS#8");
  }
}
