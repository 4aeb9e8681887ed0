package io.bulwark.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bulwark.core.BulwarkException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** No client holds more than its share of the gateway's connections (issue 10: there was no cap at all). */
class ConnectionLimitsTest {
  GatewayFixture fx;

  @BeforeEach
  void start() {
    fx = GatewayFixture.mainAndBackup(c -> c.withConnectionLimits(new GatewayConfig.ConnectionLimits(100, 5)));
  }

  @AfterEach
  void stop() {
    fx.close();
  }

  static String get(Socket s) throws Exception {
    s.getOutputStream().write("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
    s.getOutputStream().flush();
    byte[] buf = new byte[4096];
    int n = s.getInputStream().read(buf);
    return n < 0 ? "" : new String(buf, 0, n, StandardCharsets.US_ASCII);
  }

  @Test
  void a_client_over_its_connection_limit_gets_503_with_retry_after_and_others_are_served() throws Exception {
    List<Socket> held = new ArrayList<>();
    try {
      for (int i = 0; i < 5; i++) {
        Socket s = fx.rawSocket();
        held.add(s);
        assertThat(get(s)).startsWith("HTTP/1.1 200 ");
      }
      try (Socket sixth = fx.rawSocket()) {
        String answer = get(sixth);
        assertThat(answer).startsWith("HTTP/1.1 503 ").containsIgnoringCase("retry-after: " + Problems.CONNECTIONS_RETRY_AFTER_SECONDS).contains("too-many-connections");
      }
      // the held connections keep working, and a client that closes one gets its place back
      assertThat(get(held.get(0))).startsWith("HTTP/1.1 200 ");
      held.remove(0).close();
      org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(5)).until(() -> {
        try (Socket again = fx.rawSocket()) {
          return get(again).startsWith("HTTP/1.1 200 ");
        }
      });
    } finally {
      for (Socket s : held) s.close();
    }
  }

  @Test
  void a_client_over_its_byte_rate_is_slowed_and_another_client_is_not() throws Exception {
    long rate = 1024 * 1024;
    try (GatewayFixture slow = GatewayFixture.mainAndBackup(c -> c.withConnectionLimits(new GatewayConfig.ConnectionLimits(100, 5, rate)))) {
      // a second's worth at once and what one read cycle takes in before the pause (up to 1 MiB), then at the rate: ≥ 4 s
      byte[] body = new byte[(int) (6 * rate)];
      java.util.Arrays.fill(body, (byte) 'x');
      java.util.concurrent.CompletableFuture<long[]> upload = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
        long t0 = System.nanoTime();
        try (Socket s = new Socket("127.0.0.1", slow.gateway.port())) {
          s.setSoTimeout(30_000);
          s.getOutputStream().write(("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: " + body.length + "\r\nConnection: close\r\n\r\n")
              .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
          s.getOutputStream().write(body);
          String answer = new String(s.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.ISO_8859_1);
          return new long[] {answer.startsWith("HTTP/1.1 200") ? 1 : 0, System.nanoTime() - t0};
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });
      // meanwhile another address gets its small requests answered at once
      java.net.InetAddress other = java.net.InetAddress.getByName("127.0.0.2");
      for (int i = 0; i < 5; i++) {
        long t0 = System.nanoTime();
        try (Socket s = new Socket(java.net.InetAddress.getByName("127.0.0.1"), slow.gateway.port(), other, 0)) {
          s.setSoTimeout(10_000);
          assertThat(get(s)).startsWith("HTTP/1.1 200");
        }
        assertThat(java.time.Duration.ofNanos(System.nanoTime() - t0)).as("another client's request").isLessThan(java.time.Duration.ofSeconds(2));
      }
      long[] result = upload.get(30, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(result[0]).as("the slowed upload is still answered 200").isEqualTo(1);
      assertThat(java.time.Duration.ofNanos(result[1])).as("6 s of bytes at the rate, up to 2 s' worth at once")
          .isGreaterThan(java.time.Duration.ofMillis(3500));
      assertThat(slow.metrics.scrape()).containsPattern("bulwark_gateway_client_throttled_total [1-9]");
    }
  }

  @Test
  void impossible_limits_are_refused_with_the_rule() {
    assertThatThrownBy(() -> new GatewayConfig.ConnectionLimits(0, 1)).isInstanceOf(BulwarkException.class).hasMessageContaining("at least 1");
    assertThatThrownBy(() -> new GatewayConfig.ConnectionLimits(10, 11)).hasMessageContaining("1 to the total (10)");
    assertThatThrownBy(() -> new GatewayConfig.ConnectionLimits(10, 5, 1000)).hasMessageContaining("at least 65536 bytes per second");
  }
}
