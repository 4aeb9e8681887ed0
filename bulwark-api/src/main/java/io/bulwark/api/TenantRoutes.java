package io.bulwark.api;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import io.bulwark.postgres.TenantSettingsRepository;
import io.bulwark.postgres.TenantSettingsRepository.Overrides;
import java.io.IOException;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The tenants resource (admin keys only): a tenant's quotas and retention, its own and as they apply.
 * Tenant {@value TenantSettingsRepository#DEFAULTS} is the defaults every tenant takes where it sets nothing.
 */
final class TenantRoutes {
  private static final Logger log = LoggerFactory.getLogger(TenantRoutes.class);
  private static final Set<String> FIELDS = Set.of("maxQueued", "maxStoredBytes", "retentionSeconds");

  private final ApiConfig config;
  private final TenantSettingsRepository settings;
  private final TenantQuotas quotas;

  TenantRoutes(ApiConfig config, TenantSettingsRepository settings, TenantQuotas quotas) {
    this.config = config;
    this.settings = settings;
    this.quotas = quotas;
  }

  void get(Exchange ex, String tenant) {
    checkName(tenant);
    write(ex, 200, tenant);
  }

  /** Replaces the tenant's own settings: each field a number, or null (or absent) for the default. */
  void put(Exchange ex, String tenant) {
    checkName(tenant);
    TaskRoutes.bodyKind(ex, false);
    JsonNode body = TaskRequests.parse(ex.body(64 * 1024));
    if (!body.isObject()) throw ApiProblem.badRequest("body must be a JSON object: {\"maxQueued\": …, \"maxStoredBytes\": …, \"retentionSeconds\": …}");
    for (java.util.Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
      String f = it.next();
      if (!FIELDS.contains(f)) throw ApiProblem.invalidField(f, "unknown field '" + f + "'; the settings are " + String.join(", ", FIELDS.stream().sorted().toList()));
    }
    Long maxQueued = number(body, "maxQueued", 0);
    Long maxStoredBytes = number(body, "maxStoredBytes", 0);
    Long retention = number(body, "retentionSeconds", TenantSettingsRepository.MIN_RETENTION.toSeconds());
    boolean defaults = tenant.equals(TenantSettingsRepository.DEFAULTS);
    for (var f : new Object[][] {{"maxQueued", maxQueued}, {"maxStoredBytes", maxStoredBytes}, {"retentionSeconds", retention}}) {
      if (defaults && f[1] == null) throw ApiProblem.invalidField((String) f[0], "the defaults ('*') must set " + f[0]);
    }
    Overrides o = new Overrides(maxQueued, maxStoredBytes, retention);
    settings.put(tenant, o);
    quotas.forget(tenant);
    log.info("[{}] settings of tenant {} set to {} by key {}", config.name(), tenant, o, ex.principal.keyId());
    write(ex, 200, tenant);
  }

  private void write(Exchange ex, int status, String tenant) {
    Overrides own = settings.overrides(tenant).orElse(new Overrides(null, null, null));
    TenantSettingsRepository.Effective eff = settings.effective(tenant);
    ex.json(status, g -> {
      g.writeStartObject();
      g.writeStringField("tenant", tenant);
      g.writeObjectFieldStart("own");
      field(g, "maxQueued", own.maxQueued());
      field(g, "maxStoredBytes", own.maxStoredBytes());
      field(g, "retentionSeconds", own.retentionSeconds());
      g.writeEndObject();
      g.writeObjectFieldStart("effective");
      g.writeNumberField("maxQueued", eff.maxQueued());
      g.writeNumberField("maxStoredBytes", eff.maxStoredBytes());
      g.writeNumberField("retentionSeconds", eff.retention().toSeconds());
      g.writeEndObject();
      g.writeEndObject();
    });
  }

  private static void field(JsonGenerator g, String name, Long v) throws IOException {
    if (v == null) g.writeNullField(name);
    else g.writeNumberField(name, v);
  }

  private static Long number(JsonNode body, String field, long min) {
    JsonNode n = body.get(field);
    if (n == null || n.isNull()) return null;
    if (!n.isNumber() || !n.canConvertToExactIntegral() || !n.canConvertToLong() || n.longValue() < min) {
      throw ApiProblem.invalidField(field, field + " must be a whole number of at least " + min
          + (field.equals("retentionSeconds") ? " (1 day: an idempotency key lives 24 h, and a replay must find its task)" : "")
          + ", or null for the default");
    }
    return n.longValue();
  }

  private static void checkName(String tenant) {
    if (!tenant.equals(TenantSettingsRepository.DEFAULTS) && !tenant.matches(KeyRoutes.TENANT_NAME)) {
      throw ApiProblem.invalidField("tenant", "a tenant is 1-100 characters of letters, digits, '.', '_' or '-' (or '"
          + TenantSettingsRepository.DEFAULTS + "' for the defaults)");
    }
  }
}
