package io.bulwark.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bulwark.core.blob.BlobRef;
import io.bulwark.core.blob.BlobStore;
import io.bulwark.core.handler.HandlerRegistry;
import io.bulwark.core.metrics.Metrics;
import io.bulwark.postgres.Database;
import io.bulwark.postgres.NewTask;
import io.bulwark.postgres.Retention;
import io.bulwark.postgres.TaskRepository;
import io.bulwark.postgres.TenantSettingsRepository;
import io.bulwark.postgres.TenantSettingsRepository.Overrides;
import io.bulwark.storage.FileSystemBlobStore;
import io.bulwark.testkit.PostgresExtension;
import io.bulwark.testkit.TestDatabase;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Finished tasks go after their tenant's retention, with their blobs and their stored bytes; nothing else does. */
@ExtendWith(PostgresExtension.class)
class RetentionTest {
  @TempDir static Path blobDir;
  static Database db;
  static FileSystemBlobStore blobs;
  static TaskRepository tasks;
  static TenantSettingsRepository settings;

  @BeforeAll
  static void database(TestDatabase test) {
    db = Database.open(new Database.Config(test.jdbcUrl(), test.user(), test.password(), 4, Duration.ofSeconds(3), "retention-test"));
    db.migrate();
    tasks = new TaskRepository(db);
    settings = new TenantSettingsRepository(db);
    blobs = new FileSystemBlobStore(blobDir);
  }

  @AfterAll
  static void close() {
    if (db != null) db.close();
  }

  /** A task of the tenant with a blob input and a blob result, finished (or not) {@code age} ago. */
  static UUID task(String tenant, String state, Duration age) {
    // made a minute before it finished: ids are UUIDv7, and the sweep walks the ids made before its cutoff
    UUID id = idAt(Instant.now().minus(age).minusSeconds(60));
    BlobRef in = blobs.put("tasks/" + id + "/input", "input-bytes".getBytes(StandardCharsets.UTF_8));
    tasks.submit(List.of(new NewTask(id, tenant, "noop", 0, 5, 60, null, null, in, "application/octet-stream", null, null)), true);
    BlobRef out = blobs.put("tasks/" + id + "/result-1", "result".getBytes(StandardCharsets.UTF_8));
    blobs.put("tasks/" + id + "/result-0", "an earlier attempt's".getBytes(StandardCharsets.UTF_8));
    boolean finished = !state.equals("queued") && !state.equals("running");
    exec("UPDATE tasks SET state = ?, result_blob = ?, result_size = ?, result_sha256 = ?, run_at = now() - interval '30 days',"
        + " finished_at = CASE WHEN ? THEN now() - ? * interval '1 second' END WHERE id = ?",
        state, out.key(), out.size(), out.sha256(), finished, age.toSeconds(), id);
    exec("INSERT INTO usage_minutes (tenant, minute, bytes_stored) VALUES (?, date_trunc('minute', now()), 17)"
        + " ON CONFLICT (tenant, minute) DO UPDATE SET bytes_stored = usage_minutes.bytes_stored + 17", tenant);
    return id;
  }

  static UUID idAt(Instant t) {
    long msb = (t.toEpochMilli() << 16) | 0x7000L | java.util.concurrent.ThreadLocalRandom.current().nextInt(4096);
    long lsb = (java.util.concurrent.ThreadLocalRandom.current().nextLong() & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
    return new UUID(msb, lsb);
  }

  static void exec(String sql, Object... params) {
    try (Connection c = db.connection(); PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < params.length; i++) ps.setObject(i + 1, params[i]);
      ps.executeUpdate();
    } catch (Exception e) {
      throw new RuntimeException(e);
    }
  }

  static long storedBytes(String tenant) {
    try (Connection c = db.connection(); PreparedStatement ps = c.prepareStatement("SELECT coalesce(sum(bytes_stored), 0) FROM usage_minutes WHERE tenant = ?")) {
      ps.setString(1, tenant);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    } catch (Exception e) {
      throw new RuntimeException(e);
    }
  }

  static boolean exists(UUID id) {
    return tasks.findAll(List.of(id)).containsKey(id);
  }

  @Test
  void finished_tasks_past_retention_go_with_their_blobs_and_the_rest_stay() {
    String a = "ret-a-" + System.nanoTime();
    String b = "ret-b-" + System.nanoTime();
    settings.put(b, new Overrides(null, null, Duration.ofDays(2).toSeconds()));
    UUID oldDone = task(a, "succeeded", Duration.ofDays(8));
    UUID oldDead = task(a, "dead", Duration.ofDays(9));
    UUID recentDone = task(a, "succeeded", Duration.ofDays(6));
    UUID oldQueued = task(a, "queued", Duration.ZERO);
    UUID bThreeDays = task(b, "cancelled", Duration.ofDays(3)); // past b's 2 days, within the default 7
    UUID bOneDay = task(b, "succeeded", Duration.ofDays(1));

    Retention.Swept swept = new Retention(db, blobs).sweep(500, 20);

    assertThat(swept.tasks()).isEqualTo(3);
    assertThat(swept.bytes()).as("input 11 + result 6 bytes each").isEqualTo(3 * 17);
    assertThat(List.of(oldDone, oldDead, bThreeDays)).noneMatch(RetentionTest::exists);
    assertThat(List.of(recentDone, oldQueued, bOneDay)).allMatch(RetentionTest::exists);
    for (UUID gone : List.of(oldDone, oldDead, bThreeDays)) {
      assertThat(blobs.list("tasks/" + gone + "/")).as("every blob of %s, earlier attempts' too", gone).isEmpty();
    }
    assertThat(blobs.list("tasks/" + recentDone + "/")).hasSize(3);
    assertThat(storedBytes(a)).isEqualTo(2 * 17);
    assertThat(storedBytes(b)).isEqualTo(17);
    assertThat(new Retention(db, blobs).sweep(500, 20).tasks()).as("a second sweep finds nothing").isZero();
  }

  @Test
  void a_blob_store_that_fails_rolls_the_batch_back_and_the_next_sweep_finishes_it() {
    String t = "ret-fail-" + System.nanoTime();
    UUID old = task(t, "succeeded", Duration.ofDays(10));
    BlobStore failing = new FailingDeletes(blobs);
    assertThatThrownBy(() -> new Retention(db, failing).sweep(500, 20)).hasMessageContaining("store is down");
    assertThat(exists(old)).as("the row stays while its blobs cannot be deleted").isTrue();
    assertThat(storedBytes(t)).isEqualTo(17);

    assertThat(new Retention(db, blobs).sweep(500, 20).tasks()).isGreaterThanOrEqualTo(1);
    assertThat(exists(old)).isFalse();
    assertThat(blobs.list("tasks/" + old + "/")).isEmpty();
  }

  @Test
  void a_worker_sweeps_and_counts_what_it_deleted() {
    String t = "ret-worker-" + System.nanoTime();
    UUID old = task(t, "succeeded", Duration.ofDays(10));
    Metrics metrics = new Metrics();
    try (Worker w = new Worker(WorkerConfig.defaults("retention"), db, blobs, HandlerRegistry.of(), metrics)) {
      assertThat(w.sweepRetention().tasks()).isGreaterThanOrEqualTo(1);
    }
    assertThat(exists(old)).isFalse();
    assertThat(metrics.scrape()).contains("retention_deleted_tasks_total");
  }

  /** A blob store whose deletes fail, as one that is down would. */
  record FailingDeletes(BlobStore inner) implements BlobStore {
    @Override
    public BlobRef put(String key, InputStream data) {
      return inner.put(key, data);
    }

    @Override
    public byte[] get(BlobRef ref) {
      return inner.get(ref);
    }

    @Override
    public InputStream open(BlobRef ref) {
      return inner.open(ref);
    }

    @Override
    public boolean exists(String key) {
      return inner.exists(key);
    }

    @Override
    public boolean delete(String key) {
      throw new io.bulwark.core.blob.BlobException("the blob store is down");
    }

    @Override
    public List<String> list(String prefix) {
      return inner.list(prefix);
    }

    @Override
    public String describe() {
      return "failing";
    }
  }
}
