package io.bulwark.core.task;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class TaskIdsTest {

  /** The 48-bit unix_ts_ms field of a UUIDv7. */
  private static long millis(UUID id) {
    return id.getMostSignificantBits() >>> 16;
  }

  /** Compares as PostgreSQL and RFC 9562 do: unsigned, byte by byte (java.util.UUID compares signed longs). */
  private static int compareUnsigned(UUID a, UUID b) {
    int c = Long.compareUnsigned(a.getMostSignificantBits(), b.getMostSignificantBits());
    return c != 0 ? c : Long.compareUnsigned(a.getLeastSignificantBits(), b.getLeastSignificantBits());
  }

  @Test
  void ids_are_version_7_with_the_rfc_4122_variant() {
    for (int i = 0; i < 10_000; i++) {
      UUID id = TaskIds.newId();
      assertThat(id.version()).isEqualTo(7);
      assertThat(id.variant()).isEqualTo(2); // 0b10: RFC 4122 / 9562
      assertThat(id.toString()).matches("[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
    }
  }

  @Test
  void the_timestamp_field_is_the_creation_time_in_milliseconds() {
    long before = System.currentTimeMillis();
    UUID id = TaskIds.newId();
    long after = System.currentTimeMillis();
    assertThat(millis(id)).isBetween(before, after);
  }

  @Test
  void ids_are_unique() {
    Set<UUID> ids = new HashSet<>();
    for (int i = 0; i < 100_000; i++) ids.add(TaskIds.newId());
    assertThat(ids).hasSize(100_000);
  }

  @Test
  void an_id_created_in_a_later_millisecond_sorts_after_an_earlier_one() {
    for (int i = 0; i < 5; i++) {
      UUID earlier = TaskIds.newId();
      await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(1))
          .until(() -> System.currentTimeMillis() > millis(earlier));
      UUID later = TaskIds.newId();
      assertThat(millis(later)).isGreaterThan(millis(earlier));
      assertThat(later).as("java.util.UUID order").isGreaterThan(earlier);
      assertThat(compareUnsigned(later, earlier)).as("unsigned (PostgreSQL) order").isPositive();
      assertThat(later.toString()).as("text order").isGreaterThan(earlier.toString());
    }
  }

  @Test
  void sorting_many_ids_orders_them_by_their_creation_millisecond() {
    List<UUID> created = new ArrayList<>();
    long start = System.currentTimeMillis();
    // a burst spanning several milliseconds
    while (System.currentTimeMillis() - start < 20 || created.size() < 1000) created.add(TaskIds.newId());
    List<UUID> sorted = new ArrayList<>(created);
    sorted.sort(TaskIdsTest::compareUnsigned);
    for (int i = 1; i < sorted.size(); i++) {
      assertThat(millis(sorted.get(i))).isGreaterThanOrEqualTo(millis(sorted.get(i - 1)));
    }
    assertThat(millis(sorted.getLast())).isGreaterThan(millis(sorted.getFirst()));
  }

  @Test
  void ids_of_one_process_are_strictly_increasing_even_within_a_millisecond() {
    UUID previous = TaskIds.newId();
    for (int i = 0; i < 100_000; i++) {
      UUID next = TaskIds.newId();
      // PostgreSQL compares uuids as unsigned bytes: compare the hex text, which orders the same way
      assertThat(next.toString()).isGreaterThan(previous.toString());
      assertThat(next.version()).isEqualTo(7);
      previous = next;
    }
  }
}
