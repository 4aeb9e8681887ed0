package io.bulwark.monitor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.GreenMailUtil;
import com.icegreen.greenmail.util.ServerSetup;
import com.sun.net.httpserver.HttpServer;
import jakarta.mail.internet.MimeMessage;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** Email against a real SMTP server (GreenMail) and webhooks against a real HTTP server. */
class NotifiersTest {
  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  static Notice notice() {
    return new Notice("[Bulwark] OPEN #1 database: primary lost", "What failed: the primary\nRunbook: docs", IncidentStore.JSON.createObjectNode()
        .put("event", "opened"));
  }

  @Test
  void email_reaches_the_smtp_server_with_subject_and_diagnosis() throws Exception {
    int port = freePort();
    GreenMail mail = new GreenMail(new ServerSetup(port, "127.0.0.1", ServerSetup.PROTOCOL_SMTP));
    mail.start();
    try {
      MonitorPolicy.Smtp smtp = new MonitorPolicy.Smtp("127.0.0.1", port, "bulwark@example.test", false, null, null, "5s");
      SmtpNotifier n = new SmtpNotifier(smtp);
      n.verify();
      n.send(new MonitorPolicy.Recipient("manager@example.test", null, null), notice());
      MimeMessage[] got = mail.getReceivedMessages();
      assertThat(got).hasSize(1);
      assertThat(got[0].getSubject()).isEqualTo("[Bulwark] OPEN #1 database: primary lost");
      assertThat(got[0].getAllRecipients()[0].toString()).isEqualTo("manager@example.test");
      assertThat(GreenMailUtil.getBody(got[0])).contains("What failed: the primary");
    } finally {
      mail.stop();
    }
  }

  @Test
  void an_unreachable_smtp_server_is_refused_at_start_and_a_send_fails() throws Exception {
    int port = freePort(); // nobody listens
    SmtpNotifier n = new SmtpNotifier(new MonitorPolicy.Smtp("127.0.0.1", port, "bulwark@example.test", false, null, null, "2s"));
    assertThatThrownBy(n::verify).isInstanceOf(MonitorConfigException.class)
        .hasMessageContaining("cannot reach the SMTP server 127.0.0.1:" + port);
    assertThatThrownBy(() -> n.send(new MonitorPolicy.Recipient("m@example.test", null, null), notice())).isInstanceOf(IOException.class);
  }

  @Test
  void webhooks_post_the_incident_as_json_or_slack_text_and_a_non_2xx_is_a_failure() throws Exception {
    List<String> bodies = new CopyOnWriteArrayList<>();
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext("/", ex -> {
      bodies.add(new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
      int status = ex.getRequestURI().getPath().equals("/broken") ? 500 : 200;
      ex.sendResponseHeaders(status, -1);
      ex.close();
    });
    server.start();
    try (WebhookNotifier n = new WebhookNotifier()) {
      String base = "http://127.0.0.1:" + server.getAddress().getPort();
      n.send(new MonitorPolicy.Recipient(null, base + "/json", null), notice());
      n.send(new MonitorPolicy.Recipient(null, base + "/slack", "slack"), notice());
      JsonNode json = IncidentStore.JSON.readTree(bodies.get(0));
      assertThat(json.path("event").asText()).isEqualTo("opened");
      JsonNode slack = IncidentStore.JSON.readTree(bodies.get(1));
      assertThat(slack.path("text").asText()).startsWith("*[Bulwark] OPEN #1").contains("What failed");
      assertThatThrownBy(() -> n.send(new MonitorPolicy.Recipient(null, base + "/broken", null), notice()))
          .isInstanceOf(IOException.class).hasMessageContaining("answered 500").hasMessageNotContaining("/broken");
    } finally {
      server.stop(0);
    }
  }
}
