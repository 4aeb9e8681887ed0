package io.bulwark.postgres;

import static io.bulwark.postgres.SqlArrays.uuid;

import io.bulwark.core.blob.BlobStore;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletes finished tasks (succeeded, dead, cancelled) once they are older than their tenant's
 * retention ({@link TenantSettingsRepository}: 7 days unless set), with their inputs and results in
 * blob storage, and takes their bytes off the tenant's stored bytes.
 *
 * <p>Crash-safe without leaking blobs: a batch's rows are locked ({@code FOR UPDATE SKIP LOCKED}, so
 * several workers sweeping share the work), their blobs deleted, then the rows, in one transaction.
 * A crash between leaves rows whose blobs are partly gone; the next sweep deletes them (deleting a
 * missing blob is not an error). A blob store that fails rolls the batch back: nothing is lost, and
 * nothing is deleted until the store answers.
 *
 * <p>Each tenant is walked from its oldest ids ({@code tasks_tenant_idx}; ids are UUIDv7, so ids
 * below the one of the cutoff are the tasks created before it), no index on finish time needed.
 * Idempotency keys older than 24 h are pruned first: a task is deleted a day after it finished at the
 * soonest, so no key still points at a task this deletes.
 */
public final class Retention {
  private static final Logger log = LoggerFactory.getLogger(Retention.class);

  /** What one sweep deleted. */
  public record Swept(int tasks, int blobs, long bytes) {
    Swept plus(Swept o) {
      return new Swept(tasks + o.tasks, blobs + o.blobs, bytes + o.bytes);
    }
  }

  private static final String TENANTS = "WITH RECURSIVE t(tenant) AS ((SELECT tenant FROM tasks ORDER BY tenant LIMIT 1)"
      + " UNION ALL SELECT (SELECT q.tenant FROM tasks q WHERE q.tenant > t.tenant ORDER BY q.tenant LIMIT 1) FROM t"
      + " WHERE t.tenant IS NOT NULL) SELECT t.tenant, coalesce(s.retention_seconds, d.retention_seconds) FROM t"
      + " CROSS JOIN tenant_settings d LEFT JOIN tenant_settings s ON s.tenant = t.tenant"
      + " WHERE t.tenant IS NOT NULL AND d.tenant = '" + TenantSettingsRepository.DEFAULTS + "'";
  private static final String EXPIRED = "SELECT id, input_blob, result_blob,"
      + " coalesce(input_size, octet_length(input_json), 0) + coalesce(result_size, octet_length(result_json), 0)"
      + " FROM tasks WHERE tenant = ? AND id < ? AND state IN ('succeeded', 'dead', 'cancelled')"
      + " AND finished_at < now() - ? * interval '1 second' ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED";

  private final Database db;
  private final BlobStore blobs;
  private final TaskRepository tasks;

  public Retention(Database db, BlobStore blobs) {
    this.db = db;
    this.blobs = blobs;
    this.tasks = new TaskRepository(db);
  }

  /**
   * One pass over every tenant: deletes up to {@code batch} expired tasks per transaction, and up to
   * {@code maxBatches} transactions per tenant (the rest is left for the next sweep).
   */
  public Swept sweep(int batch, int maxBatches) {
    tasks.pruneIdempotencyKeys(Duration.ofHours(24));
    Map<String, Long> retention = new LinkedHashMap<>();
    try (Connection c = db.connection(); PreparedStatement ps = c.prepareStatement(TENANTS); ResultSet rs = ps.executeQuery()) {
      while (rs.next()) retention.put(rs.getString(1), rs.getLong(2));
    } catch (SQLException e) {
      throw DatabaseUnavailableException.translate("listing the tenants to sweep", e);
    }
    Swept total = new Swept(0, 0, 0);
    for (Map.Entry<String, Long> t : retention.entrySet()) {
      UUID below = idAt(Instant.now().minusSeconds(t.getValue()));
      for (int i = 0; i < maxBatches; i++) {
        Swept s = sweepBatch(t.getKey(), below, t.getValue(), batch);
        total = total.plus(s);
        if (s.tasks() < batch) break;
      }
    }
    return total;
  }

  private Swept sweepBatch(String tenant, UUID below, long retentionSeconds, int batch) {
    try (Connection c = db.connection()) {
      c.setAutoCommit(false);
      try {
        List<UUID> ids = new ArrayList<>();
        Set<String> keys = new LinkedHashSet<>();
        long bytes = 0;
        try (PreparedStatement ps = c.prepareStatement(EXPIRED)) {
          ps.setString(1, tenant);
          ps.setObject(2, below);
          ps.setLong(3, retentionSeconds);
          ps.setInt(4, batch);
          try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
              ids.add(rs.getObject(1, UUID.class));
              if (rs.getString(2) != null) keys.add(rs.getString(2));
              if (rs.getString(3) != null) keys.add(rs.getString(3));
              bytes += rs.getLong(4);
            }
          }
        }
        if (ids.isEmpty()) {
          c.rollback();
          return new Swept(0, 0, 0);
        }
        // every blob under the task's prefix: results of earlier attempts too
        for (UUID id : ids) keys.addAll(blobs.list("tasks/" + id + "/"));
        int deletedBlobs = 0;
        for (String key : keys) if (blobs.delete(key)) deletedBlobs++;
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM tasks WHERE id = ANY(?::uuid[])")) {
          SqlArrays.bind(c, ps, 1, uuid(ids.toArray()));
          ps.executeUpdate();
        }
        UsageRepository.addOutcomes(c, Instant.now().truncatedTo(ChronoUnit.MINUTES), Map.of(tenant, new long[] {0, 0, -bytes}));
        c.commit();
        log.info("retention: deleted {} task(s) of tenant {} finished more than {} s ago, {} blob(s), {} bytes", ids.size(), tenant,
            retentionSeconds, deletedBlobs, bytes);
        return new Swept(ids.size(), deletedBlobs, bytes);
      } catch (SQLException | RuntimeException e) {
        TaskRepository.rollbackQuietly(c);
        throw e;
      }
    } catch (SQLException e) {
      throw DatabaseUnavailableException.translate("deleting the expired tasks of tenant " + tenant, e);
    }
  }

  /** The smallest UUIDv7 of a millisecond: every task id below it was made before it. */
  static UUID idAt(Instant t) {
    return new UUID((t.toEpochMilli() << 16) | 0x7000L, 0L);
  }
}
