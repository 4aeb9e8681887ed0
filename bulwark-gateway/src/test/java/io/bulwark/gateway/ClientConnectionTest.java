package io.bulwark.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * How the gateway treats a client connection: answers framed for the client's HTTP version,
 * clients that leave or stop reading, and refusals the client must still be able to read.
 */
class ClientConnectionTest {
  static final Duration IDLE_TIMEOUT = Duration.ofSeconds(1);
  static final Duration READ_TIMEOUT = Duration.ofSeconds(5);
  static final long MAX_BODY = 64 * 1024;

  GatewayFixture fx;

  @BeforeEach
  void start() {
    fx = GatewayFixture.mainAndBackup(c -> c.withMaxBodyBytes(MAX_BODY).withClientTimeouts(IDLE_TIMEOUT, READ_TIMEOUT));
  }

  @AfterEach
  void stop() {
    fx.close();
  }

  @Test
  void a_streamed_answer_without_a_length_reaches_an_http_1_1_client_chunked() throws IOException {
    String answer = fx.exchangeRaw("GET /stream?chunks=3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assertThat(answer).startsWith("HTTP/1.1 200 ").containsIgnoringCase("transfer-encoding: chunked")
        .contains("chunk 0\n").contains("chunk 2\n").endsWith("0\r\n\r\n");
  }

  @Test
  void a_streamed_answer_reaches_an_http_1_0_client_delimited_by_the_close() throws IOException {
    String answer = fx.exchangeRaw("GET /stream?chunks=3 HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n");
    assertThat(answer).startsWith("HTTP/1.0 200 ").doesNotContainIgnoringCase("transfer-encoding")
        .containsIgnoringCase("connection: close").endsWith("chunk 0\nchunk 1\nchunk 2\n");
  }

  @Test
  void an_http_1_0_client_asking_for_keep_alive_keeps_its_connection() throws IOException {
    try (Socket s = fx.rawSocket()) {
      String request = "GET /ping HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n";
      for (int i = 0; i < 2; i++) {
        s.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
        String head = readHead(s.getInputStream());
        assertThat(head).startsWith("HTTP/1.0 200 ").containsIgnoringCase("connection: keep-alive");
        s.getInputStream().readNBytes(contentLength(head));
      }
    }
  }

  @Test
  void a_client_that_leaves_mid_request_frees_the_server_connection_at_once() throws Exception {
    try (Socket s = fx.rawSocket()) {
      s.getOutputStream().write("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      await().atMost(Duration.ofSeconds(5)).until(() -> fx.main().holding() == 1);
      assertThat(fx.gateway.server("api-main").inFlight()).isEqualTo(1);
    }
    // the server has not answered: the gateway noticed the client's close by itself
    await().atMost(Duration.ofSeconds(5)).until(() -> fx.gateway.server("api-main").inFlight() == 0);
    assertThat(fx.gateway.server("api-main").health()).isEqualTo(Health.UP);
    assertThat(fx.metrics.scrape()).contains("bulwark_gateway_backend_errors_total{backend=\"api-main\",kind=\"reset\"} 0")
        .contains("bulwark_gateway_requests_total{class=\"4xx\"} 1"); // logged as 499
    fx.main().releaseHeld();
  }

  @Test
  void a_client_that_stops_reading_its_answer_is_cut_off_after_the_idle_timeout() throws Exception {
    try (Socket s = fx.rawSocket()) {
      s.getOutputStream().write("GET /big?bytes=67108864 HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      long start = System.nanoTime();
      await().atMost(Duration.ofSeconds(10)).until(() -> fx.gateway.server("api-main").inFlight() == 0);
      // what reached the client's socket buffers before the cut is there to read, then the end of the stream
      long read = GatewayFixture.readUntilClosed(s.getInputStream()).length();
      assertThat(read).isLessThan(67_108_864L);
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(IDLE_TIMEOUT.minusMillis(100));
    }
    assertThat(fx.gateway.server("api-main").health()).as("the client's fault, not the server's").isEqualTo(Health.UP);
    assertThat(fx.get("/ping").status()).isEqualTo(200);
  }

  @Test
  void a_client_still_sending_a_refused_body_can_read_the_413() throws Exception {
    try (Socket s = fx.rawSocket()) {
      OutputStream out = s.getOutputStream();
      out.write("POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Length: 8388608\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      AtomicLong sent = new AtomicLong();
      Thread sender = Thread.ofPlatform().daemon().start(() -> {
        byte[] chunk = new byte[64 * 1024];
        try {
          for (int i = 0; i < 128; i++) {
            out.write(chunk);
            sent.addAndGet(chunk.length);
          }
        } catch (IOException closed) {
          // the gateway closed after its answer
        }
      });
      String head = readHead(s.getInputStream());
      assertThat(head).startsWith("HTTP/1.1 413 ").containsIgnoringCase("connection: close");
      byte[] body = s.getInputStream().readNBytes(contentLength(head));
      assertThat(new String(body, StandardCharsets.UTF_8)).contains("body-too-large");
      sender.join(10_000);
    }
    assertThat(fx.main().requests).hasValue(0);
  }

  @Test
  void an_expectation_other_than_100_continue_gets_417_and_connect_gets_405() throws IOException {
    assertThat(fx.exchangeRaw("POST /v1/tasks HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 2\r\n\r\n{}"))
        .startsWith("HTTP/1.1 417 ").contains("expectation-failed");
    assertThat(fx.exchangeRaw("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"))
        .startsWith("HTTP/1.1 405 ").contains("not a forward proxy");
    assertThat(fx.main().requests).hasValue(0);
  }

  @Test
  void an_absolute_form_target_is_sent_upstream_in_origin_form() throws IOException {
    String answer = fx.exchangeRaw("GET http://example.com/ping?x=1 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n");
    assertThat(answer).startsWith("HTTP/1.1 200 ");
    assertThat(fx.main().receivedList().getLast().pathQuery()).isEqualTo("/ping?x=1");
  }

  @Test
  void requests_pipelined_deeper_than_one_read_are_all_answered() throws IOException {
    int n = 300;
    String all = fx.exchangeRaw("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n".repeat(n - 1) + "GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assertThat(all.split("HTTP/1.1 200 OK", -1)).hasSize(n + 1);
  }

  @Test
  void a_pipelined_request_gets_its_own_time_budget_from_its_turn() throws IOException {
    fx.close();
    fx = GatewayFixture.mainAndBackup(c -> c.withUpstreamTimeouts(Duration.ofMillis(500), Duration.ofSeconds(1)));
    String slow = "GET /slow?ms=700 HTTP/1.1\r\nHost: x\r\n\r\n";
    String all = fx.exchangeRaw(slow + slow.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n"));
    assertThat(all.split("HTTP/1.1 200 OK", -1)).as(all).hasSize(3);
  }

  @Test
  void nothing_pipelined_behind_an_answer_cut_off_midway_is_sent() throws Exception {
    fx.close();
    fx = GatewayFixture.mainAndBackup(c -> c.withUpstreamTimeouts(Duration.ofMillis(500), Duration.ofSeconds(1)));
    String answer = fx.exchangeRaw("GET /stall HTTP/1.1\r\nHost: x\r\n\r\nPOST /second HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}");
    assertThat(answer).startsWith("HTTP/1.1 200 ").endsWith("0123456789"); // truncated: 10 of the declared 1000 bytes
    fx.main().releaseHeld();
    assertThat(fx.main().receivedList()).extracting(FakeBackend.Received::pathQuery).containsExactly("/stall");
  }

  @Test
  void malformed_targets_versions_and_hosts_are_refused() throws IOException {
    assertThat(fx.exchangeRaw("GET http://h/a/../../b HTTP/1.1\r\nHost: h\r\n\r\n")).startsWith("HTTP/1.1 400 ").contains("malformed-request");
    assertThat(fx.exchangeRaw("GET foo HTTP/1.1\r\nHost: h\r\n\r\n")).startsWith("HTTP/1.1 400 ").contains("must be a path");
    assertThat(fx.exchangeRaw("GET * HTTP/1.1\r\nHost: h\r\n\r\n")).startsWith("HTTP/1.1 400 ").contains("only for OPTIONS");
    assertThat(fx.exchangeRaw("GET /ping HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 400 ").contains("exactly one Host");
    assertThat(fx.exchangeRaw("GET /ping HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")).startsWith("HTTP/1.1 400 ").contains("exactly one Host");
    assertThat(fx.exchangeRaw("GET /ping HTTP/1.2\r\nHost: h\r\n\r\n")).contains(" 505 ").contains("http-version-not-supported");
    assertThat(fx.main().requests).hasValue(0);
    assertThat(fx.exchangeRaw("GET http://h?x=1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")).startsWith("HTTP/1.1 200 ");
    assertThat(fx.main().receivedList().getLast().pathQuery()).isEqualTo("/?x=1");
  }

  @Test
  void an_http_1_0_expect_header_is_ignored() throws IOException {
    String answer = fx.exchangeRaw("POST /v1/tasks HTTP/1.0\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}");
    assertThat(answer).startsWith("HTTP/1.0 200 ").endsWith("{}");
  }

  @Test
  void a_client_that_shuts_its_sending_side_is_taken_as_gone() throws Exception {
    // like HAProxy's "option abortonclose": a socket can't tell a half-close from a client that left,
    // and a client that left a long poll must not hold a server connection for a minute
    try (Socket s = fx.rawSocket()) {
      s.getOutputStream().write("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      await().atMost(Duration.ofSeconds(5)).until(() -> fx.main().holding() == 1);
      s.shutdownOutput();
      await().atMost(Duration.ofSeconds(5)).until(() -> fx.gateway.server("api-main").inFlight() == 0);
    }
    fx.main().releaseHeld();
  }

  // ------------------------------------------------------------------ raw HTTP

  private static String readHead(InputStream in) throws IOException {
    StringBuilder sb = new StringBuilder();
    while (!sb.toString().endsWith("\r\n\r\n")) {
      int c = in.read();
      if (c < 0) throw new IOException("closed after " + sb);
      sb.append((char) c);
    }
    return sb.toString();
  }

  private static int contentLength(String head) {
    for (String line : head.split("\r\n")) {
      if (line.regionMatches(true, 0, "content-length:", 0, 15)) return Integer.parseInt(line.substring(15).strip());
    }
    throw new AssertionError("no Content-Length in " + head);
  }
}
