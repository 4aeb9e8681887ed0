package io.bulwark.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.BytesRequestContent;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Bad, oversized and slow requests are answered (or cut off) by the gateway and never reach a server. */
class BadInputTest {
  static final long MAX_BODY = 1024;
  static final Duration READ_TIMEOUT = Duration.ofMillis(500);
  static final Duration IDLE_TIMEOUT = Duration.ofSeconds(5);

  GatewayFixture fx;
  ScheduledExecutorService drip;

  @BeforeEach
  void start() {
    fx = GatewayFixture.mainAndBackup(c -> c.withMaxBodyBytes(MAX_BODY).withClientTimeouts(IDLE_TIMEOUT, READ_TIMEOUT));
    drip = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("drip").factory());
  }

  @AfterEach
  void nothingReachedAServer() {
    drip.shutdownNow();
    try {
      assertThat(fx.main().requests).as("requests that reached api-main").hasValue(0);
      assertThat(fx.backup().requests).as("requests that reached api-backup").hasValue(0);
    } finally {
      fx.close();
    }
  }

  @Test
  void oversized_request_headers_get_431() throws IOException {
    String raw = "GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: " + "x".repeat(10_000) + "\r\n\r\n";
    String answer = fx.exchangeRaw(raw);
    assertThat(answer).startsWith("HTTP/1.1 431 ").contains("Content-Type: application/problem+json")
        .contains("\"type\":\"https://bulwark.dev/problems/headers-too-large\"");
  }

  @Test
  void a_malformed_request_gets_400() throws IOException {
    String answer = fx.exchangeRaw("GET /ping HTTP/1.1\r\nHost: x\r\nThis is no header\r\n\r\n");
    assertThat(answer).startsWith("HTTP/1.1 400 ").contains("malformed-request");
  }

  @Test
  void a_body_declared_larger_than_the_limit_gets_413_without_being_read() {
    GatewayFixture.Resp r = GatewayFixture.send(fx.request("POST", "/v1/tasks").body(new BytesRequestContent(new byte[(int) MAX_BODY + 1])));
    assertThat(r.status()).isEqualTo(413);
    assertThat(r.header("Content-Type")).isEqualTo("application/problem+json");
    assertThat(r.body()).contains("\"type\":\"https://bulwark.dev/problems/body-too-large\"", "body of 1025 bytes exceeds the limit of 1024 bytes");
    assertThat(r.header("X-Request-Id")).isNotBlank();
  }

  @Test
  void a_chunked_body_growing_past_the_limit_gets_413() throws IOException {
    String chunk = "600\r\n" + "a".repeat(0x600) + "\r\n";
    String answer = fx.exchangeRaw("POST /v1/tasks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        + chunk + chunk + "0\r\n\r\n");
    assertThat(answer).startsWith("HTTP/1.1 413 ").contains("body exceeds the limit of 1024 bytes");
  }

  @Test
  void a_body_of_exactly_the_limit_is_accepted() {
    fx.main().dieOnRequests(false);
    GatewayFixture.Resp r = GatewayFixture.send(fx.request("POST", "/v1/tasks").body(new BytesRequestContent(new byte[(int) MAX_BODY])));
    assertThat(r.status()).isEqualTo(200);
    fx.main().requests.set(0); // this one was meant to get through
  }

  @Test
  void no_usable_server_gets_503_with_retry_after() {
    fx.gateway.setState("api-main", ServerState.MAINT);
    fx.gateway.setState("api-backup", ServerState.DRAIN);
    GatewayFixture.Resp r = fx.get("/v1/tasks/t1");
    assertThat(r.status()).isEqualTo(503);
    assertThat(r.header("Retry-After")).isEqualTo("1");
    assertThat(r.header("Content-Type")).isEqualTo("application/problem+json");
    assertThat(r.body()).contains("\"type\":\"https://bulwark.dev/problems/no-server-available\"", "\"title\":\"No server available\"",
        "\"status\":503", "\"instance\":\"/v1/tasks/t1\"");
  }

  @Test
  void a_client_sending_its_headers_byte_by_byte_is_cut_off_after_the_request_read_timeout() throws IOException {
    try (Socket s = fx.rawSocket()) {
      OutputStream out = s.getOutputStream();
      out.write("GET /ping HTTP/1.1\r\nHost: x\r\nX-Slow: ".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      long start = System.nanoTime();
      // one byte every 100 ms: never idle long enough for the idle timeout (5 s)
      drip.scheduleAtFixedRate(() -> {
        try {
          out.write('a');
          out.flush();
        } catch (IOException closed) {
          throw new RuntimeException(closed); // stops the drip
        }
      }, 100, 100, TimeUnit.MILLISECONDS);
      assertClosedByGateway(s.getInputStream());
      long millis = (System.nanoTime() - start) / 1_000_000;
      assertThat(millis).as("cut off after the 500 ms read timeout, long before the 5 s idle timeout").isBetween(400L, 2000L);
    }
  }

  @Test
  void a_client_trickling_its_body_is_cut_off_after_the_request_read_timeout() throws IOException {
    try (Socket s = fx.rawSocket()) {
      OutputStream out = s.getOutputStream();
      out.write("POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      long start = System.nanoTime();
      drip.scheduleAtFixedRate(() -> {
        try {
          out.write('a');
          out.flush();
        } catch (IOException closed) {
          throw new RuntimeException(closed);
        }
      }, 100, 100, TimeUnit.MILLISECONDS);
      assertClosedByGateway(s.getInputStream());
      assertThat((System.nanoTime() - start) / 1_000_000).isBetween(300L, 2000L);
    }
  }

  @Test
  void an_idle_keep_alive_connection_is_closed_after_the_request_read_timeout() throws IOException {
    fx.gateway.setState("api-main", ServerState.MAINT);
    fx.gateway.setState("api-backup", ServerState.MAINT);
    try (Socket s = fx.rawSocket()) {
      s.getOutputStream().write("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      long start = System.nanoTime();
      String answer = GatewayFixture.readUntilClosed(s.getInputStream());
      long millis = (System.nanoTime() - start) / 1_000_000;
      assertThat(answer).startsWith("HTTP/1.1 503 ");
      assertThat(millis).isBetween(400L, 2000L);
    }
  }

  private static void assertClosedByGateway(InputStream in) throws IOException {
    try {
      assertThat(in.read()).as("end of stream").isEqualTo(-1);
    } catch (SocketException reset) {
      assertThat(reset.getMessage()).containsIgnoringCase("reset");
    }
  }
}
