package io.bulwark.api;

import com.fasterxml.jackson.databind.JsonNode;
import io.bulwark.core.blob.BlobException;
import io.bulwark.core.blob.BlobStore;
import io.bulwark.core.metrics.Metrics;
import io.bulwark.core.task.Task;
import io.bulwark.core.task.TaskLimits;
import io.bulwark.core.task.TaskState;
import io.bulwark.postgres.NewTask;
import io.bulwark.postgres.SubmitOutcome;
import io.bulwark.postgres.TaskRepository;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
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

/** The tasks resource: submit (one, or a batch), read (with a long poll), result, cancel, retry, list. */
final class TaskRoutes {
  private static final Logger log = LoggerFactory.getLogger(TaskRoutes.class);
  static final int MAX_WAIT_SECONDS = 60;
  static final int MAX_LIST_LIMIT = 1000;
  /** Inline results and errors in one page of the task list, past its first task; `next` continues. */
  static final long MAX_LIST_BYTES = 1L << 20;

  private final ApiConfig config;
  private final TaskRepository tasks;
  private final SubmitBatcher batcher;
  private final TaskWaiters waiters;
  private final UsageRecorder usage;
  private final TaskRequests requests;
  private final BlobStore blobs;
  private final TenantLimits.Gate tenantGate;
  private final TenantQuotas quotas;
  private final Metrics.Counter submitted;

  TaskRoutes(ApiConfig config, TaskRepository tasks, SubmitBatcher batcher, TaskWaiters waiters, UsageRecorder usage,
      TaskRequests requests, BlobStore blobs, TenantLimits.Gate tenantGate, TenantQuotas quotas, Metrics metrics) {
    this.config = config;
    this.tasks = tasks;
    this.batcher = batcher;
    this.waiters = waiters;
    this.usage = usage;
    this.requests = requests;
    this.blobs = blobs;
    this.tenantGate = tenantGate;
    this.quotas = quotas;
    this.submitted = metrics.counter("api_tasks_submitted_total", "Tasks created through this server");
  }

  /** A task id from the path; anything but a UUID is a task that does not exist (404). */
  static UUID taskId(String s) {
    try {
      if (s.length() == 36) return UUID.fromString(s);
    } catch (IllegalArgumentException ignored) {
      // fall through
    }
    throw ApiProblem.notFound("no task with id '" + s + "' (task ids are UUIDs)");
  }

  // ---------------------------------------------------------------- submission

  enum BodyKind { JSON, BINARY }

  static BodyKind bodyKind(Exchange ex, boolean binaryAllowed) {
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

  void submit(Exchange ex) {
    BodyKind kind = bodyKind(ex, true);
    String tenant = ex.principal.tenant();
    String key = ex.header("Idempotency-Key");
    if (key != null) TaskRequests.checkIdempotencyKey(key, "Idempotency-Key");
    // the declared length bounds what the input stores (a chunked body is counted once stored)
    quotas.admit(tenant, 1, Math.max(0, ex.declaredLength()));
    // the body is read as it arrives, never held whole: JSON parsed (and refused at its limits) as it
    // comes, a binary body streamed into blob storage
    Exchange.BodyStream body = ex.bodyStream(config.maxBodyBytes(), key != null);
    NewTask task;
    if (kind == BodyKind.JSON) {
      JsonNode json = TaskRequests.parse(body);
      task = requests.fromJson(json, tenant, "", false, key, key == null ? null : body.requestHash());
    } else {
      task = requests.fromBinary(ex, body, ex.header("Content-Type"), tenant, key);
    }
    SubmitOutcome outcome = await(batcher.submit(task));
    switch (outcome) {
      case SubmitOutcome.Created c -> {
        submitted.inc();
        usage.submitted(tenant, 1, task.storedBytes());
        quotas.admitted(tenant, 1, task.storedBytes());
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

  void submitBatch(Exchange ex) {
    bodyKind(ex, false);
    if (ex.header("Idempotency-Key") != null) {
      throw ApiProblem.invalidField("Idempotency-Key", "a batch takes an idempotencyKey per task, in each task object");
    }
    Exchange.BodyStream body = ex.bodyStream(config.maxBodyBytes(), false);
    JsonNode root = TaskRequests.parse(body);
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
    quotas.admit(tenant, list.size(), body.count());
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
    long created = 0;
    long stored = 0;
    for (int i = 0; i < outcomes.size(); i++) {
      if (outcomes.get(i) instanceof SubmitOutcome.Created) {
        created++;
        stored += batch.get(i).storedBytes();
      }
    }
    submitted.add(created);
    usage.submitted(tenant, created, stored);
    quotas.admitted(tenant, created, stored);
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

  void get(Exchange ex, UUID id) {
    // checked whatever the task's state, so a bad value is refused consistently
    int wait = ex.intQuery("wait", 0, MAX_WAIT_SECONDS, 0, "a whole number of seconds");
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

  void result(Exchange ex, UUID id) {
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

  void cancel(Exchange ex, UUID id) {
    changedOrConflict(ex, id, tasks.cancel(ex.principal.tenant(), id), "not-cancellable",
        "only queued or running tasks can be cancelled");
  }

  void redrive(Exchange ex, UUID id) {
    changedOrConflict(ex, id, tasks.redrive(ex.principal.tenant(), id), "not-retryable",
        "only dead or cancelled tasks can be retried");
  }

  /** The changed task (200), or 409 saying the state it is in (404 if the tenant has no such task). */
  private void changedOrConflict(Exchange ex, UUID id, Optional<Task> changed, String slug, String rule) {
    if (changed.isPresent()) {
      ex.json(200, g -> TaskJson.write(g, changed.get()));
      return;
    }
    Task current = owned(ex, id);
    throw ApiProblem.conflict(slug, "task " + id + " is " + current.state().wireName() + "; " + rule)
        .with("state", current.state().wireName());
  }

  void list(Exchange ex) {
    String s = ex.query("state");
    TaskState state;
    try {
      state = s == null ? null : TaskState.fromWire(s);
    } catch (IllegalArgumentException e) {
      throw ApiProblem.invalidField("state", e.getMessage());
    }
    int limit = ex.intQuery("limit", 1, MAX_LIST_LIMIT, 100, "a whole number");
    UUID after = ex.uuidQuery("after", "a task id from a previous page");
    TaskRepository.Page page = tasks.page(ex.principal.tenant(), state, after, limit, MAX_LIST_BYTES);
    ex.json(200, g -> {
      g.writeStartObject();
      g.writeArrayFieldStart("tasks");
      for (Task t : page.tasks()) TaskJson.write(g, t);
      g.writeEndArray();
      if (page.more()) g.writeStringField("next", page.tasks().get(page.tasks().size() - 1).id().toString());
      else g.writeNullField("next");
      g.writeEndObject();
    });
  }
}
