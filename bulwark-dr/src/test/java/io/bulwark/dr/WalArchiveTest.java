package io.bulwark.dr;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * Names and keys of the WAL archive, for every kind of file PostgreSQL archives: segments, the
 * {@code .partial} segment a promotion leaves on the old timeline, backup labels and timeline
 * history files.
 */
class WalArchiveTest {
  static final String SHA = "ab".repeat(32);

  @Test
  void every_kind_of_archived_file_round_trips_through_its_key() {
    for (String name : new String[] {"000000010000000000000003", "000000010000000000000003.partial",
        "000000010000000000000003.00000028.backup", "00000002.history"}) {
      String key = WalArchive.key(name, 5532, SHA);
      assertThat(WalArchive.parse(key)).as(key).hasValueSatisfying(e -> {
        assertThat(e.name()).isEqualTo(name);
        assertThat(e.storedSize()).isEqualTo(5532);
        assertThat(e.storedSha256()).isEqualTo(SHA);
      });
      assertThat(WalArchive.isArchivable(name)).as(name).isTrue();
      assertThat(key).startsWith(WalArchive.prefix(name));
    }
  }

  @Test
  void a_partial_segment_sits_beside_its_segment_but_is_not_one() {
    WalArchive.Entry partial = WalArchive.parse(WalArchive.key("000000010000000000000003.partial", 1, SHA)).orElseThrow();
    WalArchive.Entry segment = WalArchive.parse(WalArchive.key("000000020000000000000003", 1, SHA)).orElseThrow();
    // grouped in the same log folder as the segments of its timeline, with the same number as the new timeline's copy
    assertThat(partial.key()).startsWith("wal/0000000100000000/000000010000000000000003.partial-");
    assertThat(partial.isSegment()).as("never handed to a restore as a segment").isFalse();
    assertThat(partial.isHistory()).isFalse();
    assertThat(partial.segno()).isEqualTo(segment.segno()).isEqualTo(3);
    assertThat(partial.timeline()).isEqualTo(1);
    assertThat(segment.timeline()).isEqualTo(2);
    // the prefix of one name does not list another that merely starts the same way
    assertThat(WalArchive.prefix("000000010000000000000003")).isNotEqualTo(WalArchive.prefix("000000010000000000000003.partial"));
    assertThat(partial.key()).doesNotStartWith(WalArchive.prefix("000000010000000000000003"));
  }

  @Test
  void history_files_sit_at_the_top_and_segment_numbers_span_log_files() {
    WalArchive.Entry history = WalArchive.parse(WalArchive.key("00000002.history", 98, SHA)).orElseThrow();
    assertThat(history.key()).startsWith("wal/00000002.history-");
    assertThat(history.isHistory()).isTrue();
    assertThat(history.timeline()).isEqualTo(2);
    long segno = WalArchive.SEGMENTS_PER_LOG + 5; // the 6th segment of log file 1
    assertThat(WalArchive.segmentName(1, segno)).isEqualTo("000000010000000100000005");
    assertThat(WalArchive.segno("000000010000000100000005")).isEqualTo(segno);
  }

  @Test
  void names_postgresql_would_not_archive_are_refused() {
    assertThat(WalArchive.isArchivable("../../etc/passwd")).isFalse();
    assertThat(WalArchive.isArchivable("0000000")).isFalse();
    assertThat(WalArchive.isArchivable("00000001/0000000000000003")).isFalse();
    assertThat(WalArchive.parse("wal/not-a-key")).isEmpty();
  }
}
