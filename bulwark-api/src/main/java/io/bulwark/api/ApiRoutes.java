package io.bulwark.api;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import io.bulwark.core.auth.ApiKey;
import io.bulwark.core.blob.BlobException;
import io.bulwark.core.blob.BlobStore;
import io.bulwark.core.metrics.Metrics;
import io.bulwark.core.task.Task;
import io.bulwark.core.task.TaskLimits;
import io.bulwark.core.task.TaskState;
import io.bulwark.postgres.ApiKeyRepository;
import io.bulwark.postgres.NewTask;
import io.bulwark.postgres.ReplicationStats;
import io.bulwark.postgres.SubmitOutcome;
import io.bulwark.postgres.TaskQueue;
import io.bulwark.postgres.TaskRepository;
import io.bulwark.postgres.UsageRepository;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Every route of the HTTP API: match, authenticate, run, and turn any failure into a problem response. */
final class ApiRoutes {
  private static final Logger log = LoggerFactory.getLogger(ApiRoutes.class);
  static final int MAX_WAIT_SECONDS = 60;
  static final int MAX_LIST_LIMIT = 1000;

  private final ApiConfig config;
  private final TaskRepository tasks;
  private final ApiKeyRepository keys;
  private final UsageRepository usageRepo;
  private final Authenticator auth;
  private final SubmitBatcher batcher;
  private final TaskWaiters waiters;
  private final UsageRecorder usage;
  private final ApiServer.ReadinessProbe readiness;
  private final TaskRequests requests;
  private final BlobStore blobs;
  private final Metrics metrics;
  private final EverySecond<TaskQueue.Stats> queueStats;
  private final EverySecond<ReplicationStats> replication;
  private final Metrics.Counter authFailures;
  private final Metrics.Counter submitted;
  private final TenantLimits.Gate tenantGate;

  ApiRoutes(ApiConfig config, TaskRepository tasks, ApiKeyRepository keys, UsageRepository usageRepo, TaskQueue queue,
      Authenticator auth, SubmitBatcher batcher, TaskWaiters waiters, UsageRecorder usage,
      ApiServer.ReadinessProbe readiness, TaskRequests requests, BlobStore blobs, Metrics metrics,
      java.util.function.Supplier<ReplicationStats> replicationStats) {
    this.config = config;
    this.tasks = tasks;
    this.keys = keys;
    this.usageRepo = usageRepo;
    this.auth = auth;
    this.batcher = batcher;
    this.waiters = waiters;
    this.usage = usage;
    this.readiness = readiness;
    this.requests = requests;
    this.blobs = blobs;
    this.metrics = metrics;
    this.queueStats = new EverySecond<>(queue::stats, new TaskQueue.Stats(0, 0, 0, 0));
    this.replication = new EverySecond<>(replicationStats, ReplicationStats.UNKNOWN);
    this.authFailures = metrics.counter("api_auth_failures_total", "Requests refused for a missing, bad or revoked key");
    this.submitted = metrics.counter("api_tasks_submitted_total", "Tasks created through this server");
    this.tenantGate = new TenantLimits.Gate(config.tenantLimits(), metrics);
    metrics.gauge("queue_ready_tasks", "Tasks ready to run now", () -> queueStats.get().ready());
    metrics.gauge("queue_scheduled_tasks", "Tasks waiting for their run_at or retry time", () -> queueStats.get().scheduled());
    metrics.gauge("queue_running_tasks", "Tasks held by workers", () -> queueStats.get().running());
    metrics.gauge("queue_oldest_ready_age_seconds", "Age of the oldest ready task", () -> queueStats.get().oldestReadyAgeSeconds());
    metrics.gauge("db_standbys_streaming", "Standbys streaming WAL from the primary", () -> replication.get().streamingStandbys());
    metrics.gauge("db_replication_synchronous", "1 while a standby is synchronous (every acknowledged commit is also on it), else 0",
        () -> Math.min(1, replication.get().synchronousStandbys()));
    metrics.gauge("db_standby_lag_bytes", "WAL the slowest standby has not flushed yet", () -> replication.get().maxLagBytes());
    metrics.gauge("db_wal_last_archived_age_seconds", "Seconds since PostgreSQL last archived a WAL segment (-1: never)",
        () -> replication.get().secondsSinceLastArchived());
    metrics.gauge("db_wal_archive_failures", "Failed archive_command runs since the primary started", () -> replication.get().archiveFailures());
  }

  /** For tests: what each tenant holds of this server. */
  TenantLimits.Gate tenantGate() {
    return tenantGate;
  }

  void handle(Exchange ex) {
    long t0 = System.nanoTime();
    String route = "unmatched";
    try {
      route = dispatch(ex);
    } catch (ApiProblem p) {
      if (p.status() == 401) authFailures.inc();
      ex.problem(p);
    } catch (RuntimeException e) {
      if (ApiServer.isUnavailable(e)) {
        readiness.markUnreachable();
        ex.problem(ApiProblem.unavailable("the database is unavailable; nothing was stored. Retry shortly"
            + " (with the same Idempotency-Key, if you sent one)"));
      } else if (e.getCause() instanceof ApiProblem p) {
        ex.problem(p);
      } else {
        log.error("[{}] {} {} failed", config.name(), ex.method, ex.path, e);
        ex.problem(new ApiProblem(500, "internal-error", "Internal error",
            "the server failed to handle this request; it is logged. Retry, and report it if it persists"));
      }
    }
    if (ex.principal != null) usage.record(ex.principal.tenant(), ex.bytesIn, ex.bytesOut);
    metrics.counter("http_requests_total", "HTTP requests by route and status class", "route", route, "status",
        (ex.status / 100) + "xx").inc();
    metrics.histogram("http_request_seconds", "HTTP request latency by route", Metrics.latencyBuckets(), "route", route)
        .observeNanos(System.nanoTime() - t0);
  }

  /**
   * /metrics counts every tenant's activity: a scraper on this host reaches it directly (loopback, not
   * through a load balancer, which adds X-Forwarded-For); anyone else needs an admin key.
   */
  private void requireMetricsAccess(Exchange ex) {
    String remote = org.eclipse.jetty.server.Request.getRemoteAddr(ex.request);
    // this host: loopback, or the address the server listens on (an agent's API server binds its host's address)
    boolean local = remote != null && (remote.startsWith("127.") || remote.equals("::1") || remote.equals("0:0:0:0:0:0:0:1")
        || remote.equals("[::1]") || remote.equals(org.eclipse.jetty.server.Request.getLocalAddr(ex.request)));
    if (local && ex.header("X-Forwarded-For") == null) return;
    Exchange.Principal caller = auth.authenticate(ex.header("Authorization"));
    if (!caller.admin()) {
      throw new ApiProblem(403, "forbidden", "Forbidden", "/metrics shows every tenant's activity: it needs an admin key, or a"
          + " scrape from this host straight to the API server's port");
    }
  }

  private String dispatch(Exchange ex) {
    String p = ex.path;
    String m = ex.method;
    if (p.equals("/health/live")) return only(ex, "GET", "health", () -> ex.json(200, g -> status(g, "up")));
    if (p.equals("/health/ready")) return only(ex, "GET", "health", () -> ready(ex));
    if (p.equals("/metrics")) {
      return only(ex, "GET", "metrics", () -> {
        requireMetricsAccess(ex);
        ex.send(200, "text/plain; version=0.0.4; charset=utf-8", metrics.scrape().getBytes(StandardCharsets.UTF_8));
      });
    }
    if (!p.startsWith("/v1/")) throw ApiProblem.notFound("no such endpoint: " + m + " " + p + "; the API lives under /v1/");
    ex.principal = auth.authenticate(ex.header("Authorization"));
    try (TenantLimits.Permit admitted = tenantGate.request(ex.principal.tenant())) {
      return dispatchV1(ex);
    }
  }

  /** The /v1/ routes, for an authenticated caller admitted within its tenant's bounds. */
  private String dispatchV1(Exchange ex) {
    String p = ex.path;
    String m = ex.method;
    if (p.equals("/v1/tasks")) {
      if (m.equals("POST")) return run("tasks.submit", () -> submit(ex));
      if (m.equals("GET")) return run("tasks.list", () -> list(ex));
      throw notAllowed(ex, "GET, POST");
    }
    if (p.equals("/v1/tasks/batch")) return only(ex, "POST", "tasks.batch", () -> submitBatch(ex));
    if (p.startsWith("/v1/tasks/")) {
      String[] parts = p.substring("/v1/tasks/".length()).split("/", -1);
      UUID id = taskId(parts[0]);
      if (parts.length == 1) return only(ex, "GET", "tasks.get", () -> get(ex, id));
      if (parts.length == 2 && parts[1].equals("result")) return only(ex, "GET", "tasks.result", () -> result(ex, id));
      if (parts.length == 2 && parts[1].equals("cancel")) return only(ex, "POST", "tasks.cancel", () -> cancel(ex, id));
      if (parts.length == 2 && parts[1].equals("retry")) return only(ex, "POST", "tasks.retry", () -> redrive(ex, id));
    }
    if (p.equals("/v1/usage")) return only(ex, "GET", "usage", () -> usage(ex));
    if (p.equals("/v1/admin/keys")) {
      requireAdmin(ex);
      if (m.equals("POST")) return run("admin.keys.create", () -> createKey(ex));
      if (m.equals("GET")) return run("admin.keys.list", () -> listKeys(ex));
      throw notAllowed(ex, "GET, POST");
    }
    if (p.startsWith("/v1/admin/keys/")) {
      requireAdmin(ex);
      return only(ex, "DELETE", "admin.keys.revoke", () -> revokeKey(ex, p.substring("/v1/admin/keys/".length())));
    }
    throw ApiProblem.notFound("no such endpoint: " + m + " " + p);
  }

  private static String only(Exchange ex, String method, String route, Runnable r) {
    if (!ex.method.equals(method)) throw notAllowed(ex, method);
    return run(route, r);
  }

  private static String run(String route, Runnable r) {
    r.run();
    return route;
  }

  private static ApiProblem notAllowed(Exchange ex, String allow) {
    ex.header("Allow", allow);
    return new ApiProblem(405, "method-not-allowed", "Method not allowed", ex.method + " is not supported on " + ex.path
        + "; use " + allow);
  }

  private static UUID taskId(String s) {
    try {
      if (s.length() == 36) return UUID.fromString(s);
    } catch (IllegalArgumentException ignored) {
      // fall through
    }
    throw ApiProblem.notFound("no task with id '" + s + "' (task ids are UUIDs)");
  }

  private static void requireAdmin(Exchange ex) {
    if (!ex.principal.admin()) {
      throw new ApiProblem(403, "forbidden", "Forbidden", "this endpoint needs an admin API key");
    }
  }

  private void ready(Exchange ex) {
    if (readiness.draining) {
      ex.problem(ApiProblem.unavailable("server is draining; it takes no new requests"));
    } else if (!readiness.databaseReachable()) {
      ex.problem(ApiProblem.unavailable("database unreachable"));
    } else {
      ex.json(200, g -> status(g, "ready"));
    }
  }

  private static void status(JsonGenerator g, String s) throws IOException {
    g.writeStartObject();
    g.writeStringField("status", s);
    g.writeEndObject();
  }

  // ---------------------------------------------------------------- submission

  private enum BodyKind { JSON, BINARY }

  private BodyKind bodyKind(Exchange ex, boolean binaryAllowed) {
    String ct = ex.header("Content-Type");
    String base = ct == null ? "" : ct.split(";", 2)[0].trim().toLowerCase(java.util.Locale.ROOT);
    boolean json = base.equals("application/json") || base.endsWith("+json");
    if (json) return BodyKind.JSON;
    if (binaryAllowed && ex.query("type") != null && !base.isEmpty()) return BodyKind.BINARY;
    // curl -d sends application/x-www-form-urlencoded by default: accept it (and no type) as JSON.
    if (base.isEmpty() || base.equals("application/x-www-form-urlencoded")) return BodyKind.JSON;
    throw new ApiProblem(415, "unsupported-media-type", "Unsupported media type", "Content-Type '" + ct
        + "' is not accepted here; send application/json" + (binaryAllowed
        ? ", or a binary body with the task type in the query string (POST /v1/tasks?type=sha256)" : ""));
  }

  private void submit(Exchange ex) {
    BodyKind kind = bodyKind(ex, true);
    byte[] body = ex.body(config.maxBodyBytes());
    String tenant = ex.principal.tenant();
    String key = ex.header("Idempotency-Key");
    byte[] hash = null;
    if (key != null) {
      TaskRequests.checkIdempotencyKey(key, "Idempotency-Key");
      String q = ex.request.getHttpURI().getQuery();
      hash = TaskRequests.sha256(body, (q == null ? "" : q).getBytes(StandardCharsets.UTF_8));
    }
    NewTask task = kind == BodyKind.JSON
        ? requests.fromJson(TaskRequests.parse(body), tenant, "", false, key, hash)
        : requests.fromBinary(ex, body, ex.header("Content-Type"), tenant, key, hash);
    SubmitOutcome outcome = await(batcher.submit(task));
    switch (outcome) {
      case SubmitOutcome.Created c -> {
        submitted.inc();
        usage.submitted(tenant, 1);
        ex.header("Location", "/v1/tasks/" + c.task().id());
        ex.json(202, g -> TaskJson.write(g, c.task()));
      }
      case SubmitOutcome.Replayed r -> {
        requests.discardInput(task); // the original task has its own copy
        ex.header("Idempotent-Replayed", "true");
        ex.header("Location", "/v1/tasks/" + r.task().id());
        ex.json(200, g -> TaskJson.write(g, r.task()));
      }
      case SubmitOutcome.KeyConflict k -> {
        requests.discardInput(task);
        throw keyConflict(k.idempotencyKey(), "Idempotency-Key");
      }
    }
  }

  private static ApiProblem keyConflict(String key, String field) {
    return new ApiProblem(422, "idempotency-key-reused", "Idempotency key reused",
        "Idempotency-Key '" + key + "' was already used with a different request; use a new key for a new request")
        .with("field", field);
  }

  private SubmitOutcome await(CompletableFuture<SubmitOutcome> f) {
    try {
      return f.get(config.submitTimeout().toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw ApiProblem.unavailable("the task was not confirmed within " + config.submitTimeout().toSeconds()
          + " s; it may or may not exist. Retry with the same Idempotency-Key to be safe");
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException re) throw re;
      throw new IllegalStateException(e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw ApiProblem.unavailable("interrupted while waiting for the commit");
    }
  }

  private void submitBatch(Exchange ex) {
    bodyKind(ex, false);
    if (ex.header("Idempotency-Key") != null) {
      throw ApiProblem.invalidField("Idempotency-Key", "a batch takes an idempotencyKey per task, in each task object");
    }
    JsonNode root = TaskRequests.parse(ex.body(config.maxBodyBytes()));
    for (java.util.Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
      String f = it.next();
      if (!f.equals("tasks")) {
        throw ApiProblem.invalidField(f, "unknown field '" + f + "'; a batch is {\"tasks\": [ ... ]}, with the"
            + " settings in each task object");
      }
    }
    JsonNode list = root.get("tasks");
    if (list == null || !list.isArray()) throw ApiProblem.invalidField("tasks", "body must be {\"tasks\": [ ... ]}");
    if (list.isEmpty() || list.size() > TaskLimits.MAX_BATCH_SIZE) {
      throw ApiProblem.invalidField("tasks", "a batch holds 1 to " + TaskLimits.MAX_BATCH_SIZE + " tasks, got " + list.size());
    }
    String tenant = ex.principal.tenant();
    // validate every element before storing any large input, so a bad element leaves nothing behind
    List<TaskRequests.Prepared> prepared = new ArrayList<>(list.size());
    for (int i = 0; i < list.size(); i++) {
      prepared.add(requests.prepare(list.get(i), tenant, "tasks[" + i + "].", true, null, null));
    }
    List<NewTask> batch = new ArrayList<>(list.size());
    for (TaskRequests.Prepared p : prepared) batch.add(requests.store(p));
    List<SubmitOutcome> outcomes = tasks.submit(batch, true);
    for (SubmitOutcome o : outcomes) {
      if (o instanceof SubmitOutcome.KeyConflict k) {
        batch.forEach(requests::discardInput); // the whole batch was rolled back
        throw keyConflict(k.idempotencyKey(), "tasks[" + indexOfKey(batch, k.idempotencyKey()) + "].idempotencyKey");
      }
    }
    for (int i = 0; i < outcomes.size(); i++) {
      if (outcomes.get(i) instanceof SubmitOutcome.Replayed) requests.discardInput(batch.get(i));
    }
    long created = outcomes.stream().filter(o -> o instanceof SubmitOutcome.Created).count();
    submitted.add(created);
    usage.submitted(tenant, created);
    ex.json(202, g -> {
      g.writeStartObject();
      g.writeArrayFieldStart("tasks");
      for (SubmitOutcome o : outcomes) {
        TaskJson.write(g, o instanceof SubmitOutcome.Created c ? c.task() : ((SubmitOutcome.Replayed) o).task());
      }
      g.writeEndArray();
      g.writeEndObject();
    });
  }

  /** The last element with this key: with two in one batch, the second is the one that conflicts. */
  private static int indexOfKey(List<NewTask> batch, String key) {
    for (int i = batch.size() - 1; i >= 0; i--) {
      if (key.equals(batch.get(i).idempotencyKey())) return i;
    }
    return -1;
  }

  // ---------------------------------------------------------------- reading and changing tasks

  private Task owned(Exchange ex, UUID id) {
    return tasks.find(ex.principal.tenant(), id).orElseThrow(() -> ApiProblem.notFound("no task with id " + id));
  }

  private void get(Exchange ex, UUID id) {
    int wait = 0;
    String w = ex.query("wait");
    if (w != null) {
      try {
        wait = Integer.parseInt(w);
      } catch (NumberFormatException e) {
        wait = -1;
      }
      // checked whatever the task's state, so a bad value is refused consistently
      if (wait < 0 || wait > MAX_WAIT_SECONDS) {
        throw ApiProblem.invalidField("wait", "'wait' must be a whole number of seconds from 0 to " + MAX_WAIT_SECONDS);
      }
    }
    Task t = owned(ex, id);
    if (wait > 0 && !t.state().isTerminal()) {
      try (TenantLimits.Permit waiting = tenantGate.longPoll(ex.principal.tenant())) {
        t = waitFor(ex, t, Duration.ofSeconds(wait));
      }
    }
    Task result = t;
    ex.json(200, g -> TaskJson.write(g, result));
  }

  private Task waitFor(Exchange ex, Task t, Duration wait) {
    CompletableFuture<Task> f = waiters.await(t.id());
    try {
      return f.get(wait.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      return tasks.find(ex.principal.tenant(), t.id()).orElse(t);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return t;
    } catch (ExecutionException e) {
      return t;
    } finally {
      waiters.forget(t.id(), f);
    }
  }

  private void result(Exchange ex, UUID id) {
    Task t = owned(ex, id);
    if (t.resultJson() != null) {
      ex.send(200, Exchange.JSON_TYPE, t.resultJson().getBytes(StandardCharsets.UTF_8));
    } else if (t.resultBlob() != null) {
      try {
        ex.send(200, t.resultContentType(), blobs.get(t.resultBlob()));
      } catch (BlobException.NotFound | BlobException.Corrupt e) {
        log.error("[{}] result of task {} is unreadable: {}", config.name(), id, e.getMessage());
        throw new ApiProblem(500, "result-unreadable", "Result unreadable", "the stored result of task " + id
            + " failed its integrity check; retry the task (POST /v1/tasks/" + id + "/retry is for dead tasks)");
      }
    } else {
      throw new ApiProblem(404, "no-result", "No result", "task " + id + " has no result (state " + t.state().wireName() + ")")
          .with("state", t.state().wireName());
    }
  }

  private void cancel(Exchange ex, UUID id) {
    Optional<Task> t = tasks.cancel(ex.principal.tenant(), id);
    if (t.isPresent()) {
      ex.json(200, g -> TaskJson.write(g, t.get()));
      return;
    }
    Task current = owned(ex, id);
    throw ApiProblem.conflict("not-cancellable", "task " + id + " is " + current.state().wireName()
        + "; only queued or running tasks can be cancelled").with("state", current.state().wireName());
  }

  private void redrive(Exchange ex, UUID id) {
    Optional<Task> t = tasks.redrive(ex.principal.tenant(), id);
    if (t.isPresent()) {
      ex.json(200, g -> TaskJson.write(g, t.get()));
      return;
    }
    Task current = owned(ex, id);
    throw ApiProblem.conflict("not-retryable", "task " + id + " is " + current.state().wireName()
        + "; only dead or cancelled tasks can be retried").with("state", current.state().wireName());
  }

  private void list(Exchange ex) {
    String s = ex.query("state");
    TaskState state;
    try {
      state = s == null ? null : TaskState.fromWire(s);
    } catch (IllegalArgumentException e) {
      throw ApiProblem.invalidField("state", e.getMessage());
    }
    int limit = 100;
    String l = ex.query("limit");
    if (l != null) {
      try {
        limit = Integer.parseInt(l);
      } catch (NumberFormatException e) {
        limit = -1;
      }
      if (limit < 1 || limit > MAX_LIST_LIMIT) {
        throw ApiProblem.invalidField("limit", "'limit' must be from 1 to " + MAX_LIST_LIMIT);
      }
    }
    String a = ex.query("after");
    UUID after;
    try {
      after = a == null ? null : UUID.fromString(a);
    } catch (IllegalArgumentException e) {
      throw ApiProblem.invalidField("after", "'after' must be a task id from a previous page");
    }
    List<Task> page = tasks.list(ex.principal.tenant(), state, after, limit);
    int pageLimit = limit;
    ex.json(200, g -> {
      g.writeStartObject();
      g.writeArrayFieldStart("tasks");
      for (Task t : page) TaskJson.write(g, t);
      g.writeEndArray();
      if (page.size() == pageLimit) g.writeStringField("next", page.get(page.size() - 1).id().toString());
      else g.writeNullField("next");
      g.writeEndObject();
    });
  }

  // ---------------------------------------------------------------- usage and keys

  private void usage(Exchange ex) {
    Instant since = Instant.now().minus(Duration.ofDays(1)).truncatedTo(java.time.temporal.ChronoUnit.MINUTES);
    UsageRepository.Report r = usageRepo.report(ex.principal.tenant(), since);
    ex.json(200, g -> {
      g.writeStartObject();
      g.writeStringField("tenant", ex.principal.tenant());
      g.writeFieldName("totals");
      counts(g, r.totals());
      g.writeArrayFieldStart("minutes");
      for (UsageRepository.Counts c : r.minutes()) counts(g, c);
      g.writeEndArray();
      g.writeEndObject();
    });
  }

  private static void counts(JsonGenerator g, UsageRepository.Counts c) throws IOException {
    g.writeStartObject();
    if (c.minute() != null) g.writeStringField("minute", c.minute().toString());
    g.writeNumberField("requests", c.requests());
    g.writeNumberField("tasksSubmitted", c.tasksSubmitted());
    g.writeNumberField("tasksSucceeded", c.tasksSucceeded());
    g.writeNumberField("tasksDead", c.tasksDead());
    g.writeNumberField("bytesIn", c.bytesIn());
    g.writeNumberField("bytesOut", c.bytesOut());
    g.writeEndObject();
  }

  private void createKey(Exchange ex) {
    bodyKind(ex, false);
    JsonNode body = TaskRequests.parse(ex.body(64 * 1024));
    String tenant = text(body, "tenant", true);
    String name = text(body, "name", true);
    if (!tenant.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,99}")) {
      throw ApiProblem.invalidField("tenant", "tenant must be 1-100 characters of letters, digits, '.', '_' or '-'");
    }
    if (name.length() > 200) throw ApiProblem.invalidField("name", "name must be at most 200 characters");
    JsonNode adminNode = body.get("admin");
    if (adminNode != null && !adminNode.isBoolean()) throw ApiProblem.invalidField("admin", "admin must be true or false");
    boolean admin = adminNode != null && adminNode.booleanValue();
    ApiKey key = ApiKey.generate();
    ApiKeyRepository.StoredKey stored = keys.create(key.id(), tenant, name, key.secretHash(), admin);
    log.info("[{}] API key {} created for tenant {} by key {}", config.name(), stored.id(), tenant, ex.principal.keyId());
    ex.json(201, g -> {
      g.writeStartObject();
      keyFields(g, stored);
      g.writeStringField("key", key.token());
      g.writeEndObject();
    });
  }

  private void listKeys(Exchange ex) {
    List<ApiKeyRepository.StoredKey> all = keys.list();
    ex.json(200, g -> {
      g.writeStartObject();
      g.writeArrayFieldStart("keys");
      for (ApiKeyRepository.StoredKey k : all) {
        g.writeStartObject();
        keyFields(g, k);
        g.writeEndObject();
      }
      g.writeEndArray();
      g.writeEndObject();
    });
  }

  private void revokeKey(Exchange ex, String id) {
    if (!keys.revoke(id)) throw ApiProblem.notFound("no API key with id '" + id + "'");
    auth.invalidate(id);
    log.info("[{}] API key {} revoked by key {}", config.name(), id, ex.principal.keyId());
    ex.sendEmpty(204);
  }

  private static void keyFields(JsonGenerator g, ApiKeyRepository.StoredKey k) throws IOException {
    g.writeStringField("id", k.id());
    g.writeStringField("tenant", k.tenant());
    g.writeStringField("name", k.name());
    g.writeBooleanField("admin", k.admin());
    g.writeStringField("createdAt", k.createdAt().toString());
    if (k.revokedAt() != null) g.writeStringField("revokedAt", k.revokedAt().toString());
    else g.writeNullField("revokedAt");
  }

  private static String text(JsonNode body, String field, boolean required) {
    JsonNode n = body.get(field);
    if (n == null || n.isNull() || (n.isTextual() && n.textValue().isBlank())) {
      if (required) throw ApiProblem.invalidField(field, "'" + field + "' is required");
      return null;
    }
    if (!n.isTextual()) throw ApiProblem.invalidField(field, "'" + field + "' must be a string");
    return n.textValue();
  }

  /** A database reading for gauges, taken at most once a second however often /metrics is scraped. */
  private static final class EverySecond<T> {
    private final java.util.function.Supplier<T> read;
    private volatile T last;
    private volatile long readAt = System.nanoTime() - 2_000_000_000L; // stale: the first scrape reads

    EverySecond(java.util.function.Supplier<T> read, T initial) {
      this.read = read;
      this.last = initial;
    }

    T get() {
      if (System.nanoTime() - readAt > 1_000_000_000L) {
        try {
          last = read.get();
        } catch (RuntimeException e) {
          // keep the last value; the database error shows in readiness
        } finally {
          // from when the read ended: a read that waited out the connect timeout (database down) must not
          // make the scrape's next gauge wait again, or one scrape takes four connect timeouts
          readAt = System.nanoTime();
        }
      }
      return last;
    }
  }
}
