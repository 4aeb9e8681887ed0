package io.bulwark.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** What clients that do not send what they declare can make the gateway hold (issue 10). */
class BodyMemoryTest {
  static final int CONNECTIONS = 20;
  GatewayFixture fx;

  @BeforeEach
  void start() {
    fx = GatewayFixture.mainAndBackup(); // the default body limit: 16 MiB
  }

  @AfterEach
  void stop() {
    fx.close();
  }

  long bufferedBodyBytes() {
    return fx.metrics.scrape().lines().filter(l -> l.startsWith("bulwark_gateway_request_body_buffer_bytes "))
        .mapToLong(l -> (long) Double.parseDouble(l.substring(l.indexOf(' ') + 1))).findFirst().orElseThrow();
  }

  @Test
  void connections_declaring_16_mib_and_sending_one_byte_reserve_what_arrived_not_what_was_declared() throws Exception {
    // regression: each such connection made the gateway reserve the declared 16 MiB (200 of them: +230 MB resident)
    List<Socket> sockets = new ArrayList<>();
    try {
      for (int i = 0; i < CONNECTIONS; i++) {
        Socket s = fx.rawSocket();
        s.getOutputStream().write(("POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + "Content-Length: 16777216\r\n\r\n{").getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        sockets.add(s);
      }
      // every connection's first piece has been buffered ...
      await().atMost(Duration.ofSeconds(10)).until(() -> bufferedBodyBytes() >= (long) CONNECTIONS * ProxyExchange.FIRST_BUFFER_BYTES);
      // ... and what they hold is bounded by the first buffer, not by the 16 MiB they declared
      assertThat(bufferedBodyBytes()).isLessThanOrEqualTo(2L * CONNECTIONS * ProxyExchange.FIRST_BUFFER_BYTES);
    } finally {
      for (Socket s : sockets) s.close();
    }
    await("the buffers released when the clients leave").atMost(Duration.ofSeconds(10)).until(() -> bufferedBodyBytes() == 0);
  }

  @Test
  void a_body_that_does_arrive_is_buffered_whole_and_proxied() {
    String body = "{\"type\":\"echo\",\"input\":\"" + "x".repeat(300_000) + "\"}";
    GatewayFixture.Resp r = fx.post("/echo", body);
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.body()).contains("x".repeat(1000));
    await().atMost(Duration.ofSeconds(5)).until(() -> bufferedBodyBytes() == 0);
  }
}
