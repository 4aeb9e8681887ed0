package io.bulwark.api;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import io.bulwark.core.auth.ApiKey;
import io.bulwark.postgres.ApiKeyRepository;
import java.io.IOException;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The API keys resource (admin keys only): create (the key shown once), list, revoke. */
final class KeyRoutes {
  private static final Logger log = LoggerFactory.getLogger(KeyRoutes.class);

  /** What a tenant may be named. */
  static final String TENANT_NAME = "[A-Za-z0-9][A-Za-z0-9._-]{0,99}";

  private final ApiConfig config;
  private final ApiKeyRepository keys;
  private final Authenticator auth;

  KeyRoutes(ApiConfig config, ApiKeyRepository keys, Authenticator auth) {
    this.config = config;
    this.keys = keys;
    this.auth = auth;
  }

  void createKey(Exchange ex) {
    TaskRoutes.bodyKind(ex, false);
    JsonNode body = TaskRequests.parse(ex.body(64 * 1024));
    String tenant = text(body, "tenant", true);
    String name = text(body, "name", true);
    if (!tenant.matches(TENANT_NAME)) {
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

  void listKeys(Exchange ex) {
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

  void revokeKey(Exchange ex, String id) {
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
}
