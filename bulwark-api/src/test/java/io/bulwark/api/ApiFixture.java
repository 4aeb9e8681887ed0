package io.bulwark.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.bulwark.core.auth.ApiKey;
import io.bulwark.core.handler.HandlerRegistry;
import io.bulwark.core.metrics.Metrics;
import io.bulwark.core.task.RetryPolicy;
import io.bulwark.testkit.TestDatabase;
import io.bulwark.postgres.ApiKeyRepository;
import io.bulwark.postgres.Database;
import io.bulwark.storage.FileSystemBlobStore;
import io.bulwark.worker.Worker;
import io.bulwark.worker.WorkerConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One API server on a test class's own PostgreSQL database, with a blob store in a temp directory, an
 * HTTP client and helpers to call it. Tests isolate themselves from each other by using a fresh tenant
 * each ({@link #newTenant()}), so "nothing stored" is checked per tenant.
 */
final class ApiFixture implements AutoCloseable {
  static final ObjectMapper JSON = new ObjectMapper();
  static final Duration DB_CONNECT_TIMEOUT = Duration.ofSeconds(3);
  private static final AtomicInteger TENANTS = new AtomicInteger();

  final TestDatabase testDb;
  final Database db;
  final Path blobDir;
  final FileSystemBlobStore blobs;
  final ApiServer server;
  final Metrics metrics = new Metrics();
  final HttpClient http;
  final String base;
  final Tenant admin;
  private final List<AutoCloseable> closeables = new ArrayList<>();

  /** A tenant and one of its API keys. */
  record Tenant(String name, String keyId, String token) {}

  private ApiFixture(TestDatabase testDb, Database db, Path blobDir, ApiConfig config, boolean withAdmin) {
    this.testDb = testDb;
    this.db = db;
    this.blobDir = blobDir;
    this.blobs = new FileSystemBlobStore(blobDir);
    this.server = new ApiServer(config, db, blobs, HandlerRegistry.load(null), metrics);
    this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
    try {
      server.start();
    } catch (Exception e) {
      throw new IllegalStateException("cannot start the API server", e);
    }
    this.base = "http://127.0.0.1:" + server.port();
    this.admin = withAdmin ? createKey("admin", true) : null;
  }

  static ApiFixture start(TestDatabase testDb, Path blobDir) {
    return start(testDb, blobDir, ApiConfig.defaults("api-test", 0));
  }

  static ApiFixture start(TestDatabase testDb, Path blobDir, ApiConfig config) {
    Database db = open(testDb.jdbcUrl(), testDb);
    db.migrate();
    return new ApiFixture(testDb, db, blobDir, config, true);
  }

  /** A server whose database is at {@code jdbcUrl} (perhaps unreachable); no migration, no admin key. */
  static ApiFixture startUnmigrated(TestDatabase testDb, String jdbcUrl, Path blobDir, ApiConfig config,
      Duration connectTimeout) {
    Database db = Database.open(new Database.Config(jdbcUrl, testDb.user(), testDb.password(), 8, connectTimeout,
        "api-test"));
    return new ApiFixture(testDb, db, blobDir, config, false);
  }

  static Database open(String jdbcUrl, TestDatabase testDb) {
    return Database.open(new Database.Config(jdbcUrl, testDb.user(), testDb.password(), 8, DB_CONNECT_TIMEOUT,
        "api-test"));
  }

  // ---------------------------------------------------------------- keys and tenants

  /** A fresh tenant (unique in this JVM) with a non-admin key stored directly in the database. */
  Tenant newTenant() {
    return createKey("tenant-" + TENANTS.incrementAndGet() + "-" + System.nanoTime() % 100_000, false);
  }

  /** Another key of the same tenant. */
  Tenant createKey(String tenant, boolean isAdmin) {
    return createKey(db, tenant, isAdmin);
  }

  static Tenant createKey(Database db, String tenant, boolean isAdmin) {
    ApiKey key = ApiKey.generate();
    new ApiKeyRepository(db).create(key.id(), tenant, "test key", key.secretHash(), isAdmin);
    return new Tenant(tenant, key.id(), key.token());
  }

  // ---------------------------------------------------------------- workers

  /** An in-process worker on the same database and blob store, closed with the fixture. */
  Worker startWorker() {
    Worker w = new Worker(WorkerConfig.defaults("w")
        .withRetry(new RetryPolicy.ExponentialBackoff(Duration.ofMillis(50), Duration.ofMillis(200)))
        .withShutdownGrace(Duration.ofSeconds(1)), db, blobs, HandlerRegistry.load(null), new Metrics());
    w.start();
    closeables.add(0, w);
    return w;
  }

  // ---------------------------------------------------------------- HTTP

  Call call(String method, String path) {
    return new Call(method, path);
  }

  Call get(String path, Tenant t) {
    return call("GET", path).auth(t);
  }

  Call post(String path, Tenant t) {
    return call("POST", path).auth(t);
  }

  /** POST /v1/tasks with a JSON body; asserts 202 and returns the task object. */
  JsonNode submit(Tenant t, String json) {
    Resp r = post("/v1/tasks", t).json(json).send();
    assertThat(r.status()).as("submit %s: %s", json, r.text()).isEqualTo(202);
    return r.json();
  }

  /** GET /v1/tasks/{id}; asserts 200. */
  JsonNode task(Tenant t, String id) {
    Resp r = get("/v1/tasks/" + id, t).send();
    assertThat(r.status()).as("GET task %s: %s", id, r.text()).isEqualTo(200);
    return r.json();
  }

  /** Polls the task until it is in {@code state} (10 s at most) and returns it. */
  JsonNode awaitState(Tenant t, String id, String state) {
    JsonNode[] last = new JsonNode[1];
    await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50))
        .untilAsserted(() -> {
          last[0] = task(t, id);
          assertThat(last[0].path("state").asText()).as("state of %s: %s", id, last[0]).isEqualTo(state);
        });
    return last[0];
  }

  /** An HTTP request being built. */
  final class Call {
    private final String method;
    private final String path;
    private final Map<String, String> headers = new LinkedHashMap<>();
    private HttpRequest.BodyPublisher body = HttpRequest.BodyPublishers.noBody();

    Call(String method, String path) {
      this.method = method;
      this.path = path;
    }

    Call auth(Tenant t) {
      return header("Authorization", "Bearer " + t.token());
    }

    Call header(String name, String value) {
      headers.put(name, value);
      return this;
    }

    /** A JSON body with {@code Content-Type: application/json}. */
    Call json(String json) {
      return body(json.getBytes(StandardCharsets.UTF_8), "application/json");
    }

    /** A body with the given content type, or none when {@code contentType} is null. */
    Call body(byte[] data, String contentType) {
      if (contentType != null) headers.put("Content-Type", contentType);
      body = HttpRequest.BodyPublishers.ofByteArray(data);
      return this;
    }

    /** A body of unknown length (sent chunked). */
    Call chunked(byte[] data, String contentType) {
      if (contentType != null) headers.put("Content-Type", contentType);
      body = HttpRequest.BodyPublishers.ofInputStream(() -> new java.io.ByteArrayInputStream(data));
      return this;
    }

    HttpRequest request() {
      HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30))
          .method(method, body);
      headers.forEach(b::header);
      return b.build();
    }

    Resp send() {
      try {
        HttpResponse<byte[]> r = http.send(request(), HttpResponse.BodyHandlers.ofByteArray());
        return new Resp(r.statusCode(), r.headers(), r.body());
      } catch (IOException e) {
        throw new UncheckedIOException(method + " " + path + " failed", e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }

    CompletableFuture<Resp> sendAsync() {
      return http.sendAsync(request(), HttpResponse.BodyHandlers.ofByteArray())
          .thenApply(r -> new Resp(r.statusCode(), r.headers(), r.body()));
    }
  }

  /** A response, fully read. */
  record Resp(int status, HttpHeaders headers, byte[] body) {
    String header(String name) {
      return headers.firstValue(name).orElse(null);
    }

    String contentType() {
      return header("Content-Type");
    }

    String text() {
      return new String(body, StandardCharsets.UTF_8);
    }

    JsonNode json() {
      try {
        return JSON.readTree(body);
      } catch (IOException e) {
        throw new AssertionError("response is not JSON (status " + status + "): " + text(), e);
      }
    }

    @Override
    public String toString() {
      return status + " " + text();
    }
  }

  /** Asserts an RFC 9457 problem response with this status and returns its body. */
  static JsonNode assertProblem(Resp r, int status) {
    assertThat(r.status()).as("status of %s", r).isEqualTo(status);
    assertThat(r.contentType()).as("content type of %s", r).startsWith("application/problem+json");
    JsonNode p = r.json();
    assertThat(p.path("type").asText()).as("problem type").startsWith("https://");
    assertThat(p.path("title").asText()).as("problem title").isNotBlank();
    assertThat(p.path("status").isInt()).as("problem status is a number: %s", p).isTrue();
    assertThat(p.path("status").asInt()).isEqualTo(status);
    assertThat(p.path("detail").asText()).as("problem detail").isNotBlank();
    if (status == 401) assertThat(r.header("WWW-Authenticate")).as("WWW-Authenticate of a 401").startsWith("Bearer");
    if (status == 503) assertThat(r.header("Retry-After")).as("Retry-After of a 503").matches("[1-9][0-9]*");
    return p;
  }

  /** Asserts a 422 problem naming {@code field}. */
  static JsonNode assertInvalidField(Resp r, String field) {
    JsonNode p = assertProblem(r, 422);
    assertThat(p.path("field").asText()).as("field named by %s", p).isEqualTo(field);
    return p;
  }

  // ---------------------------------------------------------------- database

  long taskCount(Tenant t) {
    return count("SELECT count(*) FROM tasks WHERE tenant = ?", t.name());
  }

  long count(String sql, Object... params) {
    return count(db, sql, params);
  }

  static long count(Database db, String sql, Object... params) {
    try (Connection c = db.connection(); PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < params.length; i++) ps.setObject(i + 1, params[i]);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    } catch (SQLException e) {
      throw new IllegalStateException(sql, e);
    }
  }

  /** One row as column name → value, or an empty map when there is none. */
  Map<String, Object> row(String sql, Object... params) {
    try (Connection c = db.connection(); PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < params.length; i++) ps.setObject(i + 1, params[i]);
      try (ResultSet rs = ps.executeQuery()) {
        Map<String, Object> out = new LinkedHashMap<>();
        if (rs.next()) {
          for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
            out.put(rs.getMetaData().getColumnLabel(i), rs.getObject(i));
          }
        }
        return out;
      }
    } catch (SQLException e) {
      throw new IllegalStateException(sql, e);
    }
  }

  void closeLater(AutoCloseable c) {
    closeables.add(0, c);
  }

  @Override
  public void close() {
    for (AutoCloseable c : closeables) {
      try {
        c.close();
      } catch (Exception ignored) {
        // best effort
      }
    }
    http.shutdownNow();
    server.close();
    db.close();
  }
}
