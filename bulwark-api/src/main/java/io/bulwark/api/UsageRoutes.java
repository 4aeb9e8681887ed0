package io.bulwark.api;

import com.fasterxml.jackson.core.JsonGenerator;
import io.bulwark.postgres.TenantSettingsRepository;
import io.bulwark.postgres.UsageRepository;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;

/** The usage resource: a tenant's own counts, the last day by minute, and its quotas. */
final class UsageRoutes {
  private final UsageRepository usageRepo;
  private final TenantQuotas quotas;

  UsageRoutes(UsageRepository usageRepo, TenantQuotas quotas) {
    this.usageRepo = usageRepo;
    this.quotas = quotas;
  }

  void usage(Exchange ex) {
    Instant since = Instant.now().minus(Duration.ofDays(1)).truncatedTo(java.time.temporal.ChronoUnit.MINUTES);
    UsageRepository.Report r = usageRepo.report(ex.principal.tenant(), since);
    TenantSettingsRepository.QuotaState q = quotas.now(ex.principal.tenant());
    ex.json(200, g -> {
      g.writeStartObject();
      g.writeStringField("tenant", ex.principal.tenant());
      g.writeObjectFieldStart("quotas");
      g.writeObjectFieldStart("queued");
      g.writeNumberField("used", q.queued());
      g.writeNumberField("limit", q.limits().maxQueued());
      g.writeEndObject();
      g.writeObjectFieldStart("storedBytes");
      g.writeNumberField("used", q.storedBytes());
      g.writeNumberField("limit", q.limits().maxStoredBytes());
      g.writeEndObject();
      g.writeNumberField("retentionSeconds", q.limits().retention().toSeconds());
      g.writeEndObject();
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
    g.writeNumberField("bytesStored", c.bytesStored());
    g.writeEndObject();
  }
}
