package io.bulwark.postgres;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Stored API keys: only the SHA-256 of each secret is kept. */
public final class ApiKeyRepository {
  /** A stored key. {@code secretHash} is the SHA-256 of the secret, never the secret. */
  public record StoredKey(
      String id, String tenant, String name, byte[] secretHash, boolean admin, Instant createdAt, Instant revokedAt) {
    public boolean revoked() {
      return revokedAt != null;
    }
  }

  private final Database db;

  public ApiKeyRepository(Database db) {
    this.db = db;
  }

  public StoredKey create(String id, String tenant, String name, byte[] secretHash, boolean admin) {
    try (Connection c = db.connection(); PreparedStatement ps = c.prepareStatement(
        "INSERT INTO api_keys (id, tenant, name, secret_sha256, admin) VALUES (?, ?, ?, ?, ?)"
            + " RETURNING id, tenant, name, secret_sha256, admin, created_at, revoked_at")) {
      ps.setString(1, id);
      ps.setString(2, tenant);
      ps.setString(3, name);
      ps.setBytes(4, secretHash);
      ps.setBoolean(5, admin);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return map(rs);
      }
    } catch (SQLException e) {
      throw DatabaseUnavailableException.translate("creating API key for tenant " + tenant, e);
    }
  }

  public Optional<StoredKey> find(String id) {
    try (Connection c = db.connection(); PreparedStatement ps = c.prepareStatement(
        "SELECT id, tenant, name, secret_sha256, admin, created_at, revoked_at FROM api_keys WHERE id = ?")) {
      ps.setString(1, id);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(map(rs)) : Optional.empty();
      }
    } catch (SQLException e) {
      throw DatabaseUnavailableException.translate("looking up API key " + id, e);
    }
  }

  public List<StoredKey> list() {
    try (Connection c = db.connection(); PreparedStatement ps = c.prepareStatement(
        "SELECT id, tenant, name, secret_sha256, admin, created_at, revoked_at FROM api_keys ORDER BY created_at")) {
      List<StoredKey> out = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) out.add(map(rs));
      }
      return out;
    } catch (SQLException e) {
      throw DatabaseUnavailableException.translate("listing API keys", e);
    }
  }

  /** Revokes a key; returns false if no such key exists. Revoking twice keeps the first time. */
  public boolean revoke(String id) {
    try (Connection c = db.connection(); PreparedStatement ps = c.prepareStatement(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = ?")) {
      ps.setString(1, id);
      return ps.executeUpdate() == 1;
    } catch (SQLException e) {
      throw DatabaseUnavailableException.translate("revoking API key " + id, e);
    }
  }

  private static StoredKey map(ResultSet rs) throws SQLException {
    return new StoredKey(rs.getString(1), rs.getString(2), rs.getString(3), rs.getBytes(4), rs.getBoolean(5),
        TaskRows.instant(rs.getTimestamp(6)), TaskRows.instant(rs.getTimestamp(7)));
  }
}
