package io.bulwark.api;

import com.fasterxml.jackson.core.JsonGenerator;
import io.bulwark.postgres.UsageRepository;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;

/** The usage resource: a tenant's own counts, the last day by minute. */
final class UsageRoutes {
  private final UsageRepository usageRepo;

  UsageRoutes(UsageRepository usageRepo) {
    this.usageRepo = usageRepo;
  }

  void usage(Exchange ex) {
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
}
