package io.bulwark.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.AsyncRequestContent;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.util.Callback;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** What crosses the gateway: request ids, forwarding headers, no hop-by-hop headers, bodies, the access log. */
class ProxyingTest {
  GatewayFixture fx;

  @BeforeEach
  void start() {
    fx = GatewayFixture.mainAndBackup();
  }

  @AfterEach
  void stop() {
    fx.close();
  }

  FakeBackend.Received lastReceived() {
    return fx.main().receivedList().getLast();
  }

  @Test
  void the_clients_request_id_is_forwarded_and_returned() {
    GatewayFixture.Resp r = GatewayFixture.send(fx.request("GET", "/ping").headers(h -> h.put("X-Request-Id", "client-id-42")));
    assertThat(r.header("X-Request-Id")).isEqualTo("client-id-42");
    assertThat(lastReceived().header("X-Request-Id")).isEqualTo("client-id-42");
  }

  @Test
  void a_request_without_an_id_gets_a_generated_uuid_on_both_sides() {
    GatewayFixture.Resp r = fx.get("/ping");
    String id = r.header("X-Request-Id");
    assertThat(id).matches("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
    assertThat(lastReceived().header("X-Request-Id")).isEqualTo(id);
    assertThat(fx.get("/ping").header("X-Request-Id")).isNotEqualTo(id);
  }

  @Test
  void an_unreasonable_client_request_id_is_replaced() {
    String tooLong = "x".repeat(200);
    GatewayFixture.Resp r = GatewayFixture.send(fx.request("GET", "/ping").headers(h -> h.put("X-Request-Id", tooLong)));
    assertThat(r.header("X-Request-Id")).hasSize(36);
  }

  @Test
  void forwarding_headers_name_the_client_the_scheme_and_the_host_it_asked_for() {
    GatewayFixture.send(fx.request("GET", "/ping").headers(h -> h.put("X-Forwarded-For", "203.0.113.7")
        .put("X-Forwarded-Proto", "https").put("X-Forwarded-Host", "evil.example")));
    FakeBackend.Received got = lastReceived();
    assertThat(got.header("X-Forwarded-For")).isEqualTo("203.0.113.7, 127.0.0.1");
    assertThat(got.header("X-Forwarded-Proto")).as("the gateway is the edge: not taken from the client").isEqualTo("http");
    assertThat(got.header("X-Forwarded-Host")).isEqualTo("127.0.0.1:" + fx.gateway.port());
    assertThat(got.header("Host")).isEqualTo("127.0.0.1:" + fx.main().port());
    assertThat(got.headers().getValuesList("Host")).as("exactly one Host header").hasSize(1);

    fx.get("/ping");
    assertThat(lastReceived().header("X-Forwarded-For")).isEqualTo("127.0.0.1");
  }

  @Test
  void connections_to_the_server_are_kept_alive_and_reused() {
    fx.get("/ping"); // warm: the pool has a connection now
    int before = fx.main().connectionsOpened.get();
    for (int i = 0; i < 50; i++) {
      assertThat(fx.get("/ping").status()).isEqualTo(200);
      fx.post("/v1/tasks", "{}", "Idempotency-Key", "reuse-" + i);
    }
    assertThat(fx.main().connectionsOpened.get() - before).as("new connections for 100 sequential requests").isLessThanOrEqualTo(1);
  }

  @Test
  void pipelined_requests_are_all_answered_in_order() throws Exception {
    try (java.net.Socket s = new java.net.Socket("127.0.0.1", fx.gateway.port())) {
      s.setSoTimeout(10_000);
      String one = "GET /ping?n=1 HTTP/1.1\r\nHost: x\r\n\r\n";
      String two = "POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\nsecond!";
      String three = "GET /ping?n=3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
      s.getOutputStream().write((one + two + three).getBytes(StandardCharsets.US_ASCII)); // one write: all three in the gateway's buffer
      s.getOutputStream().flush();
      String all = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
      assertThat(all.split("HTTP/1.1 200 OK", -1)).hasSize(4);
      assertThat(all.indexOf("api-main")).isLessThan(all.indexOf("second!"));
      assertThat(all).endsWith("api-main");
    }
  }

  @Test
  void hop_by_hop_request_headers_stop_at_the_gateway_and_end_to_end_ones_pass() {
    GatewayFixture.send(fx.request("GET", "/ping").headers(h -> h
        .put("Connection", "keep-alive, Upgrade, X-Client-Hop")
        .put("X-Client-Hop", "secret")
        .put("Keep-Alive", "timeout=5")
        .put("Proxy-Authorization", "Basic c2VjcmV0")
        .put("Proxy-Connection", "keep-alive")
        .put("TE", "trailers")
        .put("Trailer", "X-Checksum")
        .put("Upgrade", "websocket")
        .put("Authorization", "Bearer end-to-end")
        .put("Accept-Encoding", "gzip")
        .put("User-Agent", "bulwark-test")
        .put("X-End-To-End", "kept")));
    FakeBackend.Received got = lastReceived();
    for (String hop : new String[] {"X-Client-Hop", "Keep-Alive", "Proxy-Authorization", "Proxy-Connection", "TE", "Trailer", "Upgrade"}) {
      assertThat(got.header(hop)).as(hop).isNull();
    }
    assertThat(got.header("Connection")).as("Connection").isNotEqualTo("keep-alive, X-Client-Hop");
    assertThat(got.header("Authorization")).isEqualTo("Bearer end-to-end");
    assertThat(got.header("Accept-Encoding")).isEqualTo("gzip");
    assertThat(got.header("User-Agent")).isEqualTo("bulwark-test");
    assertThat(got.header("X-End-To-End")).isEqualTo("kept");
  }

  @Test
  void hop_by_hop_response_headers_stop_at_the_gateway_and_end_to_end_ones_pass() {
    GatewayFixture.Resp r = fx.get("/hop");
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.header("X-Backend-Hop")).isNull();
    assertThat(r.header("Keep-Alive")).isNull();
    assertThat(r.header("Proxy-Authenticate")).isNull();
    assertThat(r.header("Proxy-Status")).isNull();
    assertThat(r.header("Connection")).isNull();
    assertThat(r.header("X-End-To-End")).isEqualTo("kept");
    assertThat(r.body()).isEqualTo("hop");
  }

  @Test
  void the_path_and_raw_query_reach_the_server_unchanged() {
    fx.get("/v1/tasks/t%201?state=queued&after=a%20b&x=%2F%3F%26");
    assertThat(lastReceived().pathQuery()).isEqualTo("/v1/tasks/t%201?state=queued&after=a%20b&x=%2F%3F%26");
  }

  @Test
  void an_ambiguous_path_is_refused_by_the_gateway_like_the_api_server_would() {
    GatewayFixture.Resp r = fx.get("/v1/tasks/..%2F..%2Fadmin");
    assertThat(r.status()).isEqualTo(400);
    assertThat(r.header("Content-Type")).isEqualTo("application/problem+json");
    assertThat(fx.main().requests).hasValue(0);
  }

  @Test
  void post_bodies_arrive_whole_with_their_content_type_and_chunked_ones_too() throws Exception {
    String json = "{\"type\":\"echo\",\"input\":\"" + "é".repeat(5000) + "\"}";
    GatewayFixture.Resp r = GatewayFixture.send(fx.request("POST", "/v1/tasks")
        .body(new org.eclipse.jetty.client.StringRequestContent("application/json", json)));
    assertThat(r.body()).isEqualTo(json);
    assertThat(lastReceived().header("Content-Type")).startsWith("application/json");
    assertThat(lastReceived().header("Content-Length")).isEqualTo(String.valueOf(json.getBytes(StandardCharsets.UTF_8).length));

    AsyncRequestContent chunked = new AsyncRequestContent("text/plain");
    var pending = fx.request("POST", "/v1/tasks").body(chunked);
    var future = new org.eclipse.jetty.client.CompletableResponseListener(pending).send();
    chunked.write(ByteBuffer.wrap("part one, ".getBytes(StandardCharsets.UTF_8)), Callback.NOOP);
    chunked.write(ByteBuffer.wrap("part two".getBytes(StandardCharsets.UTF_8)), Callback.NOOP);
    chunked.close();
    ContentResponse cr = future.get(10, TimeUnit.SECONDS);
    assertThat(cr.getContentAsString()).isEqualTo("part one, part two");
  }

  @Test
  void a_large_response_is_streamed_back_intact() {
    int size = 8 * 1024 * 1024 + 123;
    GatewayFixture.Resp r = GatewayFixture.send(fx.request("GET", "/big?bytes=" + size), 16 * 1024 * 1024);
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.body()).hasSize(size);
    assertThat(r.body().charAt(size - 1)).isEqualTo((char) ('a' + (size - 1) % 26));
    // the gateway ends the response with the chunk that completes the declared length: it must still
    // be declared, and the connections stay usable
    assertThat(r.headers().getLongField("Content-Length")).isEqualTo(size);
    assertThat(fx.get("/ping").status()).isEqualTo(200);
  }

  @Test
  void head_and_empty_bodied_requests_work() {
    GatewayFixture.Resp head = GatewayFixture.send(fx.request("HEAD", "/ping"));
    assertThat(head.status()).isEqualTo(200);
    assertThat(head.body()).isEmpty();
    GatewayFixture.Resp delete = GatewayFixture.send(fx.request("DELETE", "/v1/admin/keys/k1"));
    assertThat(delete.status()).isEqualTo(200);
    assertThat(lastReceived().method()).isEqualTo("DELETE");
  }

  @Test
  void a_client_expecting_100_continue_gets_it_and_its_body_arrives() throws Exception {
    try (java.net.Socket s = new java.net.Socket("127.0.0.1", fx.gateway.port())) {
      s.setSoTimeout(10_000);
      var out = s.getOutputStream();
      var in = new java.io.BufferedReader(new java.io.InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
      out.write(("POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 15\r\n"
          + "Expect: 100-continue\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      out.flush();
      assertThat(in.readLine()).isEqualTo("HTTP/1.1 100 Continue");
      assertThat(in.readLine()).isEmpty();
      out.write("{\"type\":\"noop\"}".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      assertThat(in.readLine()).isEqualTo("HTTP/1.1 200 OK");
    }
    assertThat(lastReceived().body()).isEqualTo("{\"type\":\"noop\"}");
    assertThat(lastReceived().header("Expect")).as("the gateway has the body already").isNull();
  }

  @Test
  void a_client_that_goes_away_does_not_count_against_the_server() throws Exception {
    var pending = fx.request("GET", "/hold");
    var future = new org.eclipse.jetty.client.CompletableResponseListener(pending).send();
    await().atMost(Duration.ofSeconds(5)).until(() -> fx.main().holding() == 1);
    pending.abort(new Exception("client gave up"));
    assertThat(future).failsWithin(Duration.ofSeconds(5));
    fx.main().releaseHeld();
    await().atMost(Duration.ofSeconds(5)).until(() -> fx.gateway.server("api-main").inFlight() == 0);
    assertThat(fx.gateway.server("api-main").health()).isEqualTo(Health.UP);
    // the gateway keeps reading the client's connection while it waits, so it sees the client leave
    // and gives up the upstream request as the client's doing, not the server's
    assertThat(fx.metrics.scrape()).contains("bulwark_gateway_backend_errors_total{backend=\"api-main\",kind=\"reset\"} 0");
  }

  @Test
  void the_access_log_has_one_line_per_request_and_no_secrets() {
    Logger access = (Logger) LoggerFactory.getLogger(AccessLog.LOGGER);
    ListAppender<ILoggingEvent> lines = new ListAppender<>();
    lines.start();
    access.addAppender(lines);
    Level before = access.getLevel();
    access.setLevel(Level.INFO);
    try {
      GatewayFixture.send(fx.request("GET", "/v1/tasks/t1?wait=0").headers(h -> h.put("Authorization", "Bearer sk_live_secret")
          .put("X-Request-Id", "rid-1")));
      fx.main().dieOnRequests(true);
      fx.post("/v1/tasks", "{}", "Idempotency-Key", "k");
      // the line is written when the last byte has gone out, which may be just after the client has it
      await().atMost(Duration.ofSeconds(5)).until(() -> lines.list.size() == 2);
    } finally {
      access.setLevel(before);
      access.detachAppender(lines);
    }
    assertThat(lines.list).hasSize(2);
    assertThat(lines.list.get(0).getFormattedMessage())
        .matches("\\[gw-test] GET /v1/tasks/t1 200 backend=api-main retries=0 ms=\\d+\\.\\d{3} id=rid-1")
        .doesNotContain("secret");
    assertThat(lines.list.get(1).getFormattedMessage()).matches("\\[gw-test] POST /v1/tasks 200 backend=api-backup retries=1 ms=.* id=.*");
  }
}
