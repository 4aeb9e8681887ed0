package io.bulwark.postgres;

import io.bulwark.core.BulwarkException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Duration;
import java.util.Optional;

/**
 * Per-tenant quotas and retention ({@code tenant_settings}). The row of tenant {@value #DEFAULTS}
 * holds the defaults; a tenant's own row overrides what it sets, and NULL there means the default.
 */
public final class TenantSettingsRepository {
  /** The tenant name of the defaults row. */
  public static final String DEFAULTS = "*";
  /** Retention below this is refused: an idempotency key lives 24 h, and a replay must find its task. */
  public static final Duration MIN_RETENTION = Duration.ofDays(1);

  /** A tenant's settings as they apply: its own where it set them, the defaults elsewhere. */
  public record Effective(long maxQueued, long maxStoredBytes, Duration retention) {}

  /** What a tenant's own row sets; null: the default. */
  public record Overrides(Long maxQueued, Long maxStoredBytes, Long retentionSeconds) {
    public Overrides {
      if (maxQueued != null && maxQueued < 0) throw new BulwarkException("maxQueued must be 0 or more, got " + maxQueued);
      if (maxStoredBytes != null && maxStoredBytes < 0) throw new BulwarkException("maxStoredBytes must be 0 or more, got " + maxStoredBytes);
      if (retentionSeconds != null && retentionSeconds < MIN_RETENTION.toSeconds()) {
        throw new BulwarkException("retentionSeconds must be at least " + MIN_RETENTION.toSeconds()
            + " (1 day: an idempotency key lives 24 h, and a replay must find its task), got " + retentionSeconds);
      }
    }
  }

  /** What a tenant may keep and what it holds now, read in one round trip. */
  public record QuotaState(Effective limits, long queued, long storedBytes) {}

  private static final String EFFECTIVE = "coalesce(s.max_queued, d.max_queued) AS mq, coalesce(s.max_stored_bytes, d.max_stored_bytes) AS ms,"
      + " coalesce(s.retention_seconds, d.retention_seconds) AS rs FROM tenant_settings d LEFT JOIN tenant_settings s ON s.tenant = ?"
      + " WHERE d.tenant = '" + DEFAULTS + "'";
  /** The limits, the queued tasks counted up to one past the limit (a tenant far over it costs no more), the stored bytes. */
  private static final String QUOTA_STATE = "WITH e AS (SELECT " + EFFECTIVE + ")"
      + " SELECT e.*, (SELECT count(*) FROM (SELECT 1 FROM tasks WHERE tenant = ? AND state = 'queued' LIMIT (SELECT mq + 1 FROM e)) q),"
      + " (SELECT greatest(coalesce(sum(bytes_stored), 0), 0) FROM usage_minutes WHERE tenant = ?) FROM e";

  private final Database db;

  public TenantSettingsRepository(Database db) {
    this.db = db;
  }

  public Effective effective(String tenant) {
    try (Connection c = db.connection(); PreparedStatement ps = c.prepareStatement("SELECT " + EFFECTIVE)) {
      ps.setString(1, tenant);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) throw new BulwarkException("tenant_settings has no defaults row ('" + DEFAULTS + "'); the schema is damaged");
        return effective(rs, 1);
      }
    } catch (SQLException e) {
      throw DatabaseUnavailableException.translate("reading the settings of tenant " + tenant, e);
    }
  }

  /** The tenant's limits, its queued tasks (up to one past its limit) and its stored bytes (the sum of its usage deltas). */
  public QuotaState quotaState(String tenant) {
    try (Connection c = db.connection(); PreparedStatement ps = c.prepareStatement(QUOTA_STATE)) {
      for (int i = 1; i <= 3; i++) ps.setString(i, tenant);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) throw new BulwarkException("tenant_settings has no defaults row ('" + DEFAULTS + "'); the schema is damaged");
        return new QuotaState(effective(rs, 1), rs.getLong(4), rs.getLong(5));
      }
    } catch (SQLException e) {
      throw DatabaseUnavailableException.translate("reading the quotas of tenant " + tenant, e);
    }
  }

  /** The tenant's own row, if it has one. */
  public Optional<Overrides> overrides(String tenant) {
    try (Connection c = db.connection(); PreparedStatement ps = c.prepareStatement(
        "SELECT max_queued, max_stored_bytes, retention_seconds FROM tenant_settings WHERE tenant = ?")) {
      ps.setString(1, tenant);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) return Optional.empty();
        return Optional.of(new Overrides(rs.getObject(1, Long.class), rs.getObject(2, Long.class), rs.getObject(3, Long.class)));
      }
    } catch (SQLException e) {
      throw DatabaseUnavailableException.translate("reading the settings of tenant " + tenant, e);
    }
  }

  /** Sets a tenant's own row (replacing it); the defaults row must set everything. */
  public void put(String tenant, Overrides o) {
    if (tenant.equals(DEFAULTS) && (o.maxQueued() == null || o.maxStoredBytes() == null || o.retentionSeconds() == null)) {
      throw new BulwarkException("the defaults ('" + DEFAULTS + "') must set maxQueued, maxStoredBytes and retentionSeconds");
    }
    try (Connection c = db.connection(); PreparedStatement ps = c.prepareStatement(
        "INSERT INTO tenant_settings (tenant, max_queued, max_stored_bytes, retention_seconds) VALUES (?, ?, ?, ?)"
            + " ON CONFLICT (tenant) DO UPDATE SET max_queued = excluded.max_queued, max_stored_bytes = excluded.max_stored_bytes,"
            + " retention_seconds = excluded.retention_seconds, updated_at = now()")) {
      ps.setString(1, tenant);
      setLong(ps, 2, o.maxQueued());
      setLong(ps, 3, o.maxStoredBytes());
      setLong(ps, 4, o.retentionSeconds());
      ps.executeUpdate();
    } catch (SQLException e) {
      throw DatabaseUnavailableException.translate("writing the settings of tenant " + tenant, e);
    }
  }

  private static void setLong(PreparedStatement ps, int i, Long v) throws SQLException {
    if (v == null) ps.setNull(i, Types.BIGINT);
    else ps.setLong(i, v);
  }

  private static Effective effective(ResultSet rs, int first) throws SQLException {
    return new Effective(rs.getLong(first), rs.getLong(first + 1), Duration.ofSeconds(rs.getLong(first + 2)));
  }
}
