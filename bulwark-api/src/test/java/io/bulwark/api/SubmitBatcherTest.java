package io.bulwark.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.bulwark.core.metrics.Metrics;
import io.bulwark.core.task.TaskIds;
import io.bulwark.postgres.Database;
import io.bulwark.postgres.NewTask;
import io.bulwark.postgres.SubmitOutcome;
import io.bulwark.postgres.TaskRepository;
import io.bulwark.testkit.PostgresExtension;
import io.bulwark.testkit.TestDatabase;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The group commit, on a real PostgreSQL: what one request's refusal does to the others in its batch. */
@ExtendWith(PostgresExtension.class)
class SubmitBatcherTest {
  static Database db;
  static SubmitBatcher batcher;

  @BeforeAll
  static void start(TestDatabase testDb) {
    db = ApiFixture.open(testDb.jdbcUrl(), testDb);
    db.migrate();
    batcher = new SubmitBatcher("test", new TaskRepository(db), new Metrics());
  }

  @AfterAll
  static void stop() {
    if (batcher != null) batcher.close();
    if (db != null) db.close();
  }

  static NewTask task(String tenant, Instant runAt) {
    return new NewTask(TaskIds.newId(), tenant, "noop", 0, 5, 300, runAt, "null", null, null, null, null);
  }

  @Test
  void a_request_the_database_refuses_fails_alone_and_every_other_request_of_its_group_commit_is_stored() throws Exception {
    // a value no validation should let through, as a stand-in for whatever PostgreSQL may still refuse
    List<SubmitBatcher.Pending> batch = new ArrayList<>();
    for (int i = 0; i < 10; i++) batch.add(new SubmitBatcher.Pending(task("tenant-a", null), new CompletableFuture<>()));
    SubmitBatcher.Pending bad = new SubmitBatcher.Pending(task("tenant-b", Instant.parse("0000-01-01T00:00:00Z")), new CompletableFuture<>());
    batch.add(5, bad);

    batcher.write(batch);

    for (SubmitBatcher.Pending p : batch) {
      if (p == bad) {
        assertThat(p.result()).failsWithin(5, TimeUnit.SECONDS);
      } else {
        assertThat(p.result().get(5, TimeUnit.SECONDS)).isInstanceOf(SubmitOutcome.Created.class);
      }
    }
  }
}
