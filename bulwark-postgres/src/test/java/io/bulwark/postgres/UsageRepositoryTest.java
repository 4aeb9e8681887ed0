package io.bulwark.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.bulwark.testkit.PostgresExtension;
import io.bulwark.testkit.TestDatabase;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(PostgresExtension.class)
class UsageRepositoryTest {
  private static final Instant M0 = Instant.parse("2030-01-01T10:00:00Z");
  private static final Instant M1 = M0.plusSeconds(60);
  private static final Instant M2 = M0.plusSeconds(120);

  private static Database db;
  private static UsageRepository usage;

  @BeforeAll
  static void open(TestDatabase tdb) {
    db = PgFixtures.openMigrated(tdb);
    usage = new UsageRepository(db);
  }

  @AfterAll
  static void close() {
    db.close();
  }

  @BeforeEach
  void empty() {
    PgFixtures.truncateAll(db);
  }

  private static UsageRepository.Counts counts(String tenant, Instant minute, long n) {
    return new UsageRepository.Counts(tenant, minute, n, 2 * n, 3 * n, 4 * n, 5 * n, 6 * n, 7 * n);
  }

  @Test
  void add_merges_deltas_for_the_same_tenant_and_minute() {
    usage.add(List.of(counts("acme", M0, 1)));
    usage.add(List.of(counts("acme", M0, 10)));
    usage.add(List.of(counts("acme", M0, 100)));

    UsageRepository.Report r = usage.report("acme", M0);

    assertThat(r.minutes()).containsExactly(counts("acme", M0, 111));
    assertThat(PgFixtures.count(db, "SELECT count(*) FROM usage_minutes")).isOne();
  }

  @Test
  void add_writes_several_tenants_and_minutes_in_one_call() {
    usage.add(List.of(counts("acme", M0, 1), counts("acme", M1, 2), counts("globex", M0, 3)));

    assertThat(usage.report("acme", M0).minutes()).containsExactly(counts("acme", M0, 1), counts("acme", M1, 2));
    assertThat(usage.report("globex", M0).minutes()).containsExactly(counts("globex", M0, 3));
  }

  @Test
  void old_minutes_are_rolled_up_into_days_and_totals_stay_exact() {
    Instant day = Instant.parse("2030-01-01T00:00:00Z");
    Instant recent = Instant.parse("2030-01-09T12:00:00Z");
    usage.add(List.of(counts("acme", day, 1), counts("acme", day.plusSeconds(36_000), 10), counts("acme", day.plusSeconds(36_060), 100),
        counts("acme", day.plusSeconds(86_400 + 60), 1000), counts("globex", day.plusSeconds(60), 7), counts("acme", recent, 5)));
    UsageRepository.Counts before = usage.report("acme", recent).totals();

    int written = usage.rollUp(recent.minus(UsageRepository.MINUTE_RETENTION));

    assertThat(written).as("acme's two days and globex's one").isEqualTo(3);
    assertThat(usage.report("acme", day).minutes()).containsExactly(counts("acme", day, 111),
        counts("acme", day.plusSeconds(86_400), 1000), counts("acme", recent, 5));
    assertThat(usage.report("globex", day).minutes()).containsExactly(counts("globex", day, 7));
    assertThat(usage.report("acme", recent).totals()).isEqualTo(before);
    assertThat(usage.rollUp(recent.minus(UsageRepository.MINUTE_RETENTION))).as("nothing left to roll up").isZero();
    assertThat(usage.report("acme", day).minutes()).hasSize(3);
  }

  @Test
  void adding_nothing_is_a_no_op() {
    usage.add(List.of());
    assertThat(PgFixtures.count(db, "SELECT count(*) FROM usage_minutes")).isZero();
  }

  @Test
  void report_returns_the_minutes_since_a_time_in_order_plus_all_time_totals_for_that_tenant_only() {
    usage.add(List.of(counts("acme", M2, 100), counts("acme", M0, 1), counts("acme", M1, 10),
        counts("globex", M1, 1000), counts("globex", M2, 1000)));

    UsageRepository.Report r = usage.report("acme", M1);

    assertThat(r.minutes()).containsExactly(counts("acme", M1, 10), counts("acme", M2, 100));
    assertThat(r.totals()).isEqualTo(counts("acme", null, 111)); // all time: M0 included, globex not
  }

  @Test
  void a_tenant_without_usage_gets_empty_minutes_and_zero_totals() {
    usage.add(List.of(counts("globex", M0, 5)));

    UsageRepository.Report r = usage.report("acme", Instant.EPOCH);

    assertThat(r.minutes()).isEmpty();
    assertThat(r.totals()).isEqualTo(new UsageRepository.Counts("acme", null, 0, 0, 0, 0, 0, 0, 0));
  }
}
