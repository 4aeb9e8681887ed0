package io.bulwark.api;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.bulwark.core.blob.BlobRef;
import io.bulwark.core.blob.BlobStore;
import io.bulwark.core.handler.HandlerRegistry;
import io.bulwark.core.task.TaskIds;
import io.bulwark.core.task.TaskLimits;
import io.bulwark.postgres.NewTask;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.Iterator;
import java.util.Set;
import java.util.UUID;

/** Turns submission requests into validated {@link NewTask}s, or a problem naming what is wrong. */
final class TaskRequests {
  /**
   * The most JSON tokens (values, field names, brackets) one request body may hold. A request body is
   * read into a tree, which costs up to ~100 bytes a token: 16 MiB of {@code [{},{},...]} is 11 million
   * tokens, a gigabyte of tree, and took an API server (-Xmx256m) down for every tenant. 200,000 tokens
   * keep the tree within about the size of the body limit; larger structured inputs go as a binary body
   * (streamed to blob storage, never parsed).
   */
  static final long MAX_JSON_TOKENS = 200_000;
  /** The deepest nesting of arrays and objects a request body may have. */
  static final int MAX_JSON_DEPTH = 128;
  /** Refuses anything after the first JSON value: {@code {"type":"noop"}}} is malformed, not a noop task. */
  static final ObjectMapper MAPPER = new ObjectMapper(com.fasterxml.jackson.core.JsonFactory.builder()
      .streamReadConstraints(com.fasterxml.jackson.core.StreamReadConstraints.builder()
          .maxTokenCount(MAX_JSON_TOKENS).maxNestingDepth(MAX_JSON_DEPTH).build())
      .build()).enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
  private static final Set<String> FIELDS = Set.of("type", "input", "priority", "maxAttempts", "timeoutSeconds", "runAt");
  private static final Set<String> BATCH_FIELDS =
      Set.of("type", "input", "priority", "maxAttempts", "timeoutSeconds", "runAt", "idempotencyKey");

  private final HandlerRegistry handlers;
  private final BlobStore blobs;

  TaskRequests(HandlerRegistry handlers, BlobStore blobs) {
    this.handlers = handlers;
    this.blobs = blobs;
  }

  static JsonNode parse(byte[] body) {
    if (body.length == 0) throw ApiProblem.badRequest("request body is empty; send a JSON object");
    return parse(() -> MAPPER.readTree(body));
  }

  /**
   * Parses a JSON body as it arrives: a body past the token or depth limits is refused when the parser
   * gets there, not after all of it was read.
   */
  static JsonNode parse(Exchange.BodyStream body) {
    // Jackson closes its source when it fails; the body must stay open to be read to its end (see Exchange#problem)
    java.io.InputStream unclosed = new java.io.FilterInputStream(body) {
      @Override
      public void close() {}
    };
    return parse(() -> {
      JsonNode node = MAPPER.readTree(unclosed);
      body.drain(); // what follows the value (a newline), so the connection can carry the next request
      if (body.count() == 0) throw ApiProblem.badRequest("request body is empty; send a JSON object");
      return node;
    });
  }

  private interface Read {
    JsonNode read() throws java.io.IOException;
  }

  private static JsonNode parse(Read read) {
    JsonNode node;
    try {
      node = read.read();
    } catch (Exchange.BodyTooLarge e) {
      throw Exchange.unreadable(e);
    } catch (com.fasterxml.jackson.core.exc.StreamConstraintsException e) {
      throw new ApiProblem(413, "body-too-complex", "Request body too complex",
          "the JSON body exceeds " + MAX_JSON_TOKENS + " tokens or " + MAX_JSON_DEPTH + " levels of nesting; send a large"
              + " structured input as a binary body (Content-Type: application/octet-stream, settings in the query string)");
    } catch (JsonProcessingException e) {
      JsonLocation at = e.getLocation();
      throw ApiProblem.badRequest("malformed JSON: " + e.getOriginalMessage()
          + (at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr()));
    } catch (java.io.IOException e) {
      if (e.getCause() instanceof Exchange.BodyTooLarge t) throw Exchange.unreadable(t);
      throw ApiProblem.badRequest("could not read JSON: " + e.getMessage());
    }
    if (node == null || node.isMissingNode()) {
      throw ApiProblem.badRequest("request body holds no JSON value (only whitespace); send a JSON object");
    }
    return node;
  }

  /**
   * A validated task whose large JSON input, if any, is not in blob storage yet: a batch validates all
   * its tasks before storing any input, so an invalid element leaves nothing behind.
   */
  record Prepared(NewTask task, byte[] largeInput) {}

  /** A task from a JSON object (a single submission, or one element of a batch at {@code prefix}). */
  NewTask fromJson(JsonNode node, String tenant, String prefix, boolean batchItem, String idempotencyKey,
      byte[] requestHash) {
    return store(prepare(node, tenant, prefix, batchItem, idempotencyKey, requestHash));
  }

  /** Stores a prepared task's large input in blob storage; returns the task to insert. */
  NewTask store(Prepared p) {
    if (p.largeInput() == null) return p.task();
    NewTask t = p.task();
    BlobRef ref = blobs.put("tasks/" + t.id() + "/input", p.largeInput());
    return new NewTask(t.id(), t.tenant(), t.type(), t.priority(), t.maxAttempts(), t.timeoutSeconds(), t.runAt(), null,
        ref, Exchange.JSON_TYPE, t.idempotencyKey(), t.requestHash());
  }

  /**
   * Deletes the stored input of a task that was not inserted (its idempotency key replayed another task
   * or conflicted), so it does not stay in blob storage with no task pointing at it. Best effort.
   */
  void discardInput(NewTask t) {
    if (t.inputBlob() == null) return;
    try {
      blobs.delete(t.inputBlob().key());
    } catch (RuntimeException ignored) {
      // an orphaned blob wastes space only
    }
  }

  /** Validates a task from a JSON object without storing anything. */
  Prepared prepare(JsonNode node, String tenant, String prefix, boolean batchItem, String idempotencyKey,
      byte[] requestHash) {
    if (!(node instanceof ObjectNode obj)) {
      String field = prefix.isEmpty() ? "body" : prefix.substring(0, prefix.length() - 1); // "tasks[3]"
      throw ApiProblem.invalidField(field, "expected a JSON object");
    }
    Set<String> allowed = batchItem ? BATCH_FIELDS : FIELDS;
    for (Iterator<String> it = obj.fieldNames(); it.hasNext(); ) {
      String f = it.next();
      if (!allowed.contains(f)) {
        throw ApiProblem.invalidField(prefix + f, "unknown field '" + f + "'; allowed: " + String.join(", ", allowed.stream().sorted().toList()));
      }
    }
    JsonNode typeNode = obj.get("type");
    if (typeNode == null || !typeNode.isTextual()) {
      throw ApiProblem.invalidField(prefix + "type", "'type' is required and must be a string");
    }
    String type = checkType(typeNode.textValue(), prefix + "type");
    int priority = intField(obj, prefix, "priority", TaskLimits.DEFAULT_PRIORITY, TaskLimits.MIN_PRIORITY, TaskLimits.MAX_PRIORITY);
    int maxAttempts = intField(obj, prefix, "maxAttempts", TaskLimits.DEFAULT_MAX_ATTEMPTS, 1, TaskLimits.MAX_MAX_ATTEMPTS);
    int timeout = intField(obj, prefix, "timeoutSeconds", TaskLimits.DEFAULT_TIMEOUT_SECONDS, 1, TaskLimits.MAX_TIMEOUT_SECONDS);
    Instant runAt = runAt(instantField(obj.get("runAt"), prefix + "runAt"), prefix + "runAt");
    if (batchItem) {
      JsonNode k = obj.get("idempotencyKey");
      if (k != null && !k.isNull()) {
        if (!k.isTextual()) throw ApiProblem.invalidField(prefix + "idempotencyKey", "must be a string");
        idempotencyKey = checkIdempotencyKey(k.textValue(), prefix + "idempotencyKey");
        ObjectNode canonical = obj.deepCopy();
        canonical.remove("idempotencyKey");
        requestHash = sha256(canonical.toString().getBytes(StandardCharsets.UTF_8));
      }
    }
    JsonNode input = obj.get("input");
    byte[] inputJson = (input == null ? "null" : input.toString()).getBytes(StandardCharsets.UTF_8);
    UUID id = TaskIds.newId();
    if (inputJson.length > TaskLimits.INLINE_LIMIT_BYTES) {
      return new Prepared(new NewTask(id, tenant, type, priority, maxAttempts, timeout, runAt, null, null, null,
          idempotencyKey, requestHash), inputJson);
    }
    return new Prepared(new NewTask(id, tenant, type, priority, maxAttempts, timeout, runAt,
        new String(inputJson, StandardCharsets.UTF_8), null, null, idempotencyKey, requestHash), null);
  }

  /** A task whose input is a binary body; its settings come from the query string. */
  /**
   * A task from a binary body, streamed into blob storage as it arrives (never held whole); the
   * query's settings are checked before a byte is stored. The request hash, if an idempotency key
   * came, is the body's and the query's, known once the body is stored.
   */
  NewTask fromBinary(Exchange ex, Exchange.BodyStream body, String contentType, String tenant, String idempotencyKey) {
    String type = checkType(ex.query("type"), "type");
    int priority = intParam(ex, "priority", TaskLimits.DEFAULT_PRIORITY, TaskLimits.MIN_PRIORITY, TaskLimits.MAX_PRIORITY);
    int maxAttempts = intParam(ex, "maxAttempts", TaskLimits.DEFAULT_MAX_ATTEMPTS, 1, TaskLimits.MAX_MAX_ATTEMPTS);
    int timeout = intParam(ex, "timeoutSeconds", TaskLimits.DEFAULT_TIMEOUT_SECONDS, 1, TaskLimits.MAX_TIMEOUT_SECONDS);
    String runAtParam = ex.query("runAt");
    Instant runAt = runAtParam == null ? null : runAt(parseInstant(runAtParam, "runAt"), "runAt");
    UUID id = TaskIds.newId();
    String key = "tasks/" + id + "/input";
    BlobRef ref;
    try {
      ref = blobs.put(key, body);
    } catch (RuntimeException e) {
      for (Throwable c = e; c != null; c = c.getCause()) {
        if (c instanceof Exchange.BodyTooLarge t) {
          blobs.delete(key); // a store that kept what it got before the limit
          throw Exchange.unreadable(t);
        }
      }
      throw e;
    }
    byte[] requestHash = null;
    if (idempotencyKey != null) {
      try {
        requestHash = body.requestHash();
      } catch (ApiProblem e) {
        blobs.delete(key);
        throw e;
      }
    }
    return new NewTask(id, tenant, type, priority, maxAttempts, timeout, runAt, null, ref, contentType,
        idempotencyKey, requestHash);
  }

  private String checkType(String type, String field) {
    if (type == null || type.isEmpty()) throw ApiProblem.invalidField(field, "'type' is required");
    if (!handlers.contains(type)) {
      throw new ApiProblem(422, "unknown-task-type", "Unknown task type",
          "no handler for task type '" + type + "'; known types: " + String.join(", ", handlers.types()))
          .with("field", field);
    }
    return type;
  }

  static String checkIdempotencyKey(String key, String field) {
    if (key.isEmpty() || key.length() > 255 || !key.chars().allMatch(ch -> ch >= 0x21 && ch <= 0x7e)) {
      throw ApiProblem.invalidField(field, "Idempotency-Key must be 1-255 visible ASCII characters (a UUID is ideal)");
    }
    return key;
  }

  private static int intField(ObjectNode obj, String prefix, String name, int dflt, int min, int max) {
    JsonNode n = obj.get(name);
    if (n == null || n.isNull()) return dflt;
    if (!n.isIntegralNumber() || !n.canConvertToInt() || n.intValue() < min || n.intValue() > max) {
      throw ApiProblem.invalidField(prefix + name, "'" + name + "' must be an integer from " + min + " to " + max + ", got " + n);
    }
    return n.intValue();
  }

  private static int intParam(Exchange ex, String name, int dflt, int min, int max) {
    String v = ex.query(name);
    if (v == null) return dflt;
    try {
      int i = Integer.parseInt(v);
      if (i >= min && i <= max) return i;
    } catch (NumberFormatException ignored) {
      // fall through to the problem
    }
    throw ApiProblem.invalidField(name, "'" + name + "' must be an integer from " + min + " to " + max + ", got '" + v + "'");
  }

  private static Instant instantField(JsonNode n, String field) {
    if (n == null || n.isNull()) return null;
    if (!n.isTextual()) throw ApiProblem.invalidField(field, "must be an ISO-8601 date-time string, e.g. 2026-01-31T12:00:00Z");
    return parseInstant(n.textValue(), field);
  }

  /**
   * A task's start time as stored: null (now, on the database's clock) for none or a time already
   * past, so that a date in the past cannot jump the queue and no year PostgreSQL cannot store reaches
   * a shared group commit; refused after {@link TaskLimits#LATEST_RUN_AT}.
   */
  static Instant runAt(Instant requested, String field) {
    if (requested == null || !requested.isAfter(Instant.now())) return null;
    if (requested.isAfter(TaskLimits.LATEST_RUN_AT)) {
      throw ApiProblem.invalidField(field, "must be no later than " + TaskLimits.LATEST_RUN_AT + "; got " + requested);
    }
    return requested;
  }

  static Instant parseInstant(String s, String field) {
    try {
      return OffsetDateTime.parse(s).toInstant();
    } catch (DateTimeParseException e) {
      throw ApiProblem.invalidField(field, "'" + s + "' is not an ISO-8601 date-time with offset, e.g. 2026-01-31T12:00:00Z");
    }
  }

  static byte[] sha256(byte[]... parts) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      for (byte[] p : parts) {
        md.update(p);
        md.update((byte) 0);
      }
      return md.digest();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
