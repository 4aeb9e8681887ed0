package io.bulwark.api;

import com.fasterxml.jackson.core.JsonGenerator;
import io.bulwark.core.task.Task;
import java.io.IOException;
import java.time.Instant;

/** The task object of the HTTP API (camelCase), written straight to a generator: no reflection on the hot path. */
final class TaskJson {
  private TaskJson() {}

  static void write(JsonGenerator g, Task t) throws IOException {
    g.writeStartObject();
    g.writeStringField("id", t.id().toString());
    g.writeStringField("type", t.type());
    g.writeStringField("state", t.state().wireName());
    g.writeNumberField("attempts", t.attempts());
    g.writeNumberField("maxAttempts", t.maxAttempts());
    g.writeNumberField("priority", t.priority());
    g.writeNumberField("timeoutSeconds", t.timeoutSeconds());
    time(g, "runAt", t.runAt());
    time(g, "createdAt", t.createdAt());
    time(g, "startedAt", t.startedAt());
    time(g, "finishedAt", t.finishedAt());
    g.writeFieldName("result");
    if (t.resultJson() != null) g.writeRawValue(t.resultJson());
    else g.writeNull();
    if (t.resultBlob() != null) {
      g.writeStringField("resultUrl", "/v1/tasks/" + t.id() + "/result");
      g.writeNumberField("resultSize", t.resultBlob().size());
      g.writeStringField("resultContentType", t.resultContentType());
    }
    if (t.error() != null) g.writeStringField("error", t.error());
    else g.writeNullField("error");
    g.writeEndObject();
  }

  private static void time(JsonGenerator g, String name, Instant i) throws IOException {
    if (i == null) g.writeNullField(name);
    else g.writeStringField(name, i.toString());
  }
}
