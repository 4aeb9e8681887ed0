package io.bulwark.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.bulwark.core.task.Task;
import io.bulwark.testkit.PostgresExtension;
import io.bulwark.testkit.TestDatabase;
import java.time.Instant;
import java.util.List;
import java.util.TimeZone;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Instants sent in timestamptz arrays must survive a JVM time zone with daylight saving time. When
 * clocks go back, local times repeat: 2024-11-03 01:30 happens at 05:30Z (EDT) and again at 06:30Z
 * (EST). Arrays of java.sql.Timestamp were sent as zone-less local text, so the first instant came
 * back an hour late (a scheduled task ran an hour late; usage minutes landed in the wrong hour).
 */
@ExtendWith(PostgresExtension.class)
class TimestampArrayTimeZoneTest {
  private static final Instant FIRST_0130 = Instant.parse("2024-11-03T05:30:00Z"); // 01:30 EDT
  private static final Instant SECOND_0130 = Instant.parse("2024-11-03T06:30:00Z"); // 01:30 EST

  private static TimeZone original;
  private static Database db;

  @BeforeAll
  static void openInNewYork(TestDatabase tdb) {
    original = TimeZone.getDefault();
    // the driver sends the JVM's zone as the session TimeZone when it connects, so set it first
    TimeZone.setDefault(TimeZone.getTimeZone("America/New_York"));
    db = PgFixtures.openMigrated(tdb);
  }

  @AfterAll
  static void restore() {
    db.close();
    TimeZone.setDefault(original);
  }

  @Test
  void a_run_at_in_the_repeated_hour_when_clocks_go_back_is_stored_as_the_same_instant() {
    TaskRepository repo = new TaskRepository(db);
    NewTask first = PgFixtures.task("acme", "echo", 0, 5, FIRST_0130);
    NewTask second = PgFixtures.task("acme", "echo", 0, 5, SECOND_0130);

    List<SubmitOutcome> out = repo.submit(List.of(first, second), true);

    assertThat(out).extracting(o -> ((SubmitOutcome.Created) o).task().runAt()).containsExactly(FIRST_0130, SECOND_0130);
    assertThat(repo.find("acme", first.id()).map(Task::runAt)).contains(FIRST_0130);
    assertThat(repo.find("acme", second.id()).map(Task::runAt)).contains(SECOND_0130);
  }

  @Test
  void usage_minutes_in_the_repeated_hour_stay_apart() {
    UsageRepository usage = new UsageRepository(db);
    usage.add(List.of(
        new UsageRepository.Counts("acme", FIRST_0130, 1, 0, 0, 0, 0, 0, 0),
        new UsageRepository.Counts("acme", SECOND_0130, 2, 0, 0, 0, 0, 0, 0)));

    assertThat(usage.report("acme", Instant.EPOCH).minutes())
        .extracting(UsageRepository.Counts::minute, UsageRepository.Counts::requests)
        .containsExactly(org.assertj.core.groups.Tuple.tuple(FIRST_0130, 1L),
            org.assertj.core.groups.Tuple.tuple(SECOND_0130, 2L));
  }
}
