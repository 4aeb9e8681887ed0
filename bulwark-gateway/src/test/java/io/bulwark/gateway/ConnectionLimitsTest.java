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
        assertThat(answer).startsWith("HTTP/1.1 503 ").containsIgnoringCase("retry-after: 1").contains("too-many-connections");
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
  void impossible_limits_are_refused_with_the_rule() {
    assertThatThrownBy(() -> new GatewayConfig.ConnectionLimits(0, 1)).isInstanceOf(BulwarkException.class).hasMessageContaining("at least 1");
    assertThatThrownBy(() -> new GatewayConfig.ConnectionLimits(10, 11)).hasMessageContaining("1 to the total (10)");
  }
}
