package io.bulwark.gateway;

import io.bulwark.core.metrics.Metrics;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.eclipse.jetty.client.CompletableResponseListener;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.StringRequestContent;
import org.eclipse.jetty.http.HttpFields;

/** A gateway in front of fake API servers, and an HTTP client to call it with. */
final class GatewayFixture implements AutoCloseable {
  /**
   * Checks fast enough that tests about other things don't wait for them; a generous timeout, since
   * a busy CI machine can make a check slow (the tests' dead servers refuse connections at once).
   */
  static final HealthCheckConfig FAST_CHECKS =
      new HealthCheckConfig("/health/ready", Duration.ofMillis(100), Duration.ofSeconds(1), 2, 2, Duration.ofMillis(50));

  final List<FakeBackend> backends;
  final Metrics metrics = new Metrics();
  final Gateway gateway;
  final HttpClient client;

  private GatewayFixture(List<FakeBackend> backends, GatewayConfig config) {
    this.backends = backends;
    this.gateway = new Gateway(config, metrics);
    gateway.start();
    this.client = new HttpClient();
    client.setFollowRedirects(false);
    client.setMaxConnectionsPerDestination(256);
    try {
      client.start();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** {@code api-main} (primary) and {@code api-backup} (backup), fast checks, then {@code tweak}. */
  static GatewayFixture mainAndBackup(UnaryOperator<GatewayConfig> tweak) {
    FakeBackend main = FakeBackend.start("api-main");
    FakeBackend backup = FakeBackend.start("api-backup");
    GatewayConfig config = GatewayConfig.mainAndBackup("gw-test", 0, 0, main.url(), backup.url()).withChecks(FAST_CHECKS);
    return new GatewayFixture(List.of(main, backup), tweak.apply(config));
  }

  static GatewayFixture mainAndBackup() {
    return mainAndBackup(c -> c);
  }

  /** Fake servers named {@code names}; those starting with "backup" are backups. */
  static GatewayFixture of(String... names) {
    List<FakeBackend> fakes = new ArrayList<>();
    List<BackendConfig> configs = new ArrayList<>();
    for (String n : names) {
      FakeBackend f = FakeBackend.start(n);
      fakes.add(f);
      configs.add(n.startsWith("backup") ? BackendConfig.backup(n, f.url()) : BackendConfig.primary(n, f.url()));
    }
    return new GatewayFixture(fakes, GatewayConfig.defaults("gw-test", 0, 0, configs).withChecks(FAST_CHECKS));
  }

  FakeBackend main() {
    return backends.get(0);
  }

  FakeBackend backup() {
    return backends.get(1);
  }

  FakeBackend backend(String name) {
    return backends.stream().filter(b -> b.name.equals(name)).findFirst().orElseThrow();
  }

  String url(String path) {
    return "http://127.0.0.1:" + gateway.port() + path;
  }

  String adminUrl(String path) {
    return "http://127.0.0.1:" + gateway.adminPort() + path;
  }

  Request request(String method, String path) {
    return client.newRequest(url(path)).method(method).timeout(10, TimeUnit.SECONDS);
  }

  Resp get(String path) {
    return send(request("GET", path));
  }

  Resp post(String path, String body, String... headerPairs) {
    Request r = request("POST", path).body(new StringRequestContent("text/plain", body));
    for (int i = 0; i < headerPairs.length; i += 2) {
      String name = headerPairs[i];
      String value = headerPairs[i + 1];
      r.headers(h -> h.add(name, value));
    }
    return send(r);
  }

  Resp admin(String method, String path, String body) {
    Request r = client.newRequest(adminUrl(path)).method(method).timeout(10, TimeUnit.SECONDS);
    if (body != null) r.body(new StringRequestContent("text/plain", body));
    return send(r);
  }

  /** A plain socket to the gateway, for requests an HTTP client would not send (10 s read timeout). */
  java.net.Socket rawSocket() throws java.io.IOException {
    java.net.Socket s = new java.net.Socket("127.0.0.1", gateway.port());
    s.setSoTimeout(10_000);
    return s;
  }

  /** Sends {@code raw} as it is and reads until the gateway closes the connection. */
  String exchangeRaw(String raw) throws java.io.IOException {
    try (java.net.Socket s = rawSocket()) {
      s.getOutputStream().write(raw.getBytes(StandardCharsets.US_ASCII));
      s.getOutputStream().flush();
      return readUntilClosed(s.getInputStream());
    }
  }

  /** Everything until the end of the stream; a reset after the answer is as good as a close. */
  static String readUntilClosed(java.io.InputStream in) throws java.io.IOException {
    java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
    byte[] buf = new byte[64 * 1024];
    try {
      for (int n; (n = in.read(buf)) >= 0; ) got.write(buf, 0, n);
    } catch (java.net.SocketException reset) {
      // a reset after the answer is as good as a close
    }
    return got.toString(StandardCharsets.US_ASCII);
  }

  static Resp send(Request r) {
    try {
      ContentResponse cr = r.send();
      return new Resp(cr.getStatus(), cr.getHeaders(), new String(cr.getContent(), StandardCharsets.UTF_8));
    } catch (Exception e) {
      throw new AssertionError("request " + r.getMethod() + " " + r.getURI() + " failed: " + e, e);
    }
  }

  /** {@link #send(Request)} for answers larger than the client's default 2 MiB buffer. */
  static Resp send(Request r, int maxBytes) {
    try {
      ContentResponse cr = new CompletableResponseListener(r, maxBytes).send().get(30, TimeUnit.SECONDS);
      return new Resp(cr.getStatus(), cr.getHeaders(), new String(cr.getContent(), StandardCharsets.UTF_8));
    } catch (Exception e) {
      throw new AssertionError("request " + r.getMethod() + " " + r.getURI() + " failed: " + e, e);
    }
  }

  /** A response as the client saw it. */
  record Resp(int status, HttpFields headers, String body) {
    String header(String name) {
      return headers.get(name);
    }

    /** The fake server that answered, from its X-Backend header. */
    String backend() {
      return headers.get("X-Backend");
    }
  }

  @Override
  public void close() {
    try {
      client.stop();
    } catch (Exception ignored) {
      // best effort
    }
    gateway.close();
    backends.forEach(FakeBackend::close);
  }
}
