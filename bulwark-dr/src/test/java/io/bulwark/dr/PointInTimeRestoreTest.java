package io.bulwark.dr;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bulwark.storage.FileSystemBlobStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * One primary, one backup, marker rows committed continuously, then an accidental DELETE at T. The
 * bad-input tests work on copies of the repository, so they cannot disturb each other.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PointInTimeRestoreTest {
  Path tmp;
  TestCluster cluster;
  BackupManifest backup;
  Instant deleteAt;
  Map<Integer, Instant> commitTimes;

  @BeforeAll
  void setUp(@TempDir Path dir) throws Exception {
    tmp = dir;
    cluster = new TestCluster(tmp.resolve("live"));
    Markers.create(cluster);
    backup = cluster.backup();
    try (Markers m = new Markers(cluster, 1)) {
      m.awaitCount(150);
      Thread.sleep(1200); // markers keep coming for over a second before the accident
      deleteAt = Instant.now();
      cluster.sql("DELETE FROM markers");
      m.awaitCount(m.acked.size() + 20);
    }
    try (Connection c = cluster.connect(); Statement s = c.createStatement()) {
      commitTimes = Markers.commitTimes(c);
      String segment;
      try (ResultSet rs = s.executeQuery("SELECT pg_walfile_name(pg_current_wal_insert_lsn())")) {
        rs.next();
        segment = rs.getString(1);
      }
      s.execute("SELECT pg_switch_wal()");
      cluster.archiver.awaitArchived(List.of(segment), Duration.ofSeconds(30));
    }
  }

  @AfterAll
  void tearDown() {
    if (cluster != null) cluster.close();
  }

  @Test
  @Order(1)
  void restore_to_one_second_before_an_accidental_delete_brings_back_exactly_the_rows_committed_by_then() throws Exception {
    Instant target = deleteAt.minusSeconds(1);
    Set<Integer> expected = committedBy(target);
    assertThat(expected).hasSizeGreaterThan(50);
    TreeSet<Integer> restored = restoreAndRead(target, "before-delete");
    assertThat(restored).isEqualTo(expected);
    System.out.println("PITR to T-1s: " + restored.size() + " markers (" + restored.first() + ".." + restored.last()
        + "), exactly those committed by " + target);
  }

  @Test
  @Order(2)
  void restore_to_the_exact_commit_time_of_a_row_includes_it_and_nothing_later() throws Exception {
    int k = commitTimes.keySet().stream().filter(s -> commitTimes.get(s).isBefore(deleteAt)).mapToInt(i -> i).max().orElseThrow() / 2;
    Instant target = commitTimes.get(k);
    TreeSet<Integer> restored = restoreAndRead(target, "exact");
    assertThat(restored).isEqualTo(committedBy(target));
    assertThat(restored.last()).isEqualTo(k);
  }

  @Test
  @Order(3)
  void restore_latest_has_the_delete_and_the_rows_after_it() throws Exception {
    PointInTimeRestore.Result r = PointInTimeRestore.run(cluster.store, cluster.restoreTo(null, "latest"), (pg, c) -> {
      Set<Integer> after = commitTimes.entrySet().stream().filter(e -> e.getValue().isAfter(deleteAt)).map(Map.Entry::getKey)
          .collect(Collectors.toCollection(TreeSet::new));
      Set<Integer> rows = Markers.seqs(c, "markers");
      assertThat(rows).isNotEmpty().isSubsetOf(after);
      assertThat(Markers.seqs(c, "marker_log")).hasSize(commitTimes.size());
    });
    assertThat(r.timeline()).isGreaterThan(backup.timeline());
  }

  @Test
  void a_target_directory_that_is_not_empty_is_refused() throws IOException {
    Path target = cluster.root.resolve("occupied");
    Files.createDirectories(target);
    Files.writeString(target.resolve("precious.txt"), "keep me");
    assertThatThrownBy(() -> PointInTimeRestore.run(cluster.store, cluster.restoreTo(null, "occupied")))
        .isInstanceOf(DrException.class).hasMessageContaining("is not empty");
    assertThat(Files.readString(target.resolve("precious.txt"))).isEqualTo("keep me");
  }

  @Test
  void a_time_outside_the_window_is_refused_with_the_window_in_the_message() {
    BackupCatalog.Window w = BackupCatalog.list(cluster.store).window().orElseThrow();
    for (Instant t : List.of(backup.stoppedAt().minusSeconds(60), Instant.now().plus(Duration.ofHours(1)))) {
      assertThatThrownBy(() -> PointInTimeRestore.run(cluster.store, cluster.restoreTo(t, "outside")))
          .isInstanceOf(DrException.class)
          .hasMessageContaining("outside the restorable window")
          .hasMessageContaining(w.from().toString()).hasMessageContaining(w.to().toString());
    }
    assertThat(Files.exists(cluster.root.resolve("outside"))).isFalse();
  }

  @Test
  void a_corrupt_backup_file_is_detected_by_its_checksum_and_named() throws IOException {
    Path repo = copyRepository("corrupt-file");
    BackupManifest.FileEntry f = newest(repo).files().stream().filter(e -> e.path().equals("global/pg_control")).findFirst().orElseThrow();
    flipByte(repo.resolve(f.key()));
    assertThatThrownBy(() -> PointInTimeRestore.run(new FileSystemBlobStore(repo), cluster.restoreTo(null, "from-corrupt-file")))
        .isInstanceOf(DrException.class).hasMessageContaining(f.key()).hasMessageContaining("corrupt");
  }

  @Test
  void a_corrupt_wal_segment_is_detected_by_its_checksum_and_named() throws IOException {
    Path repo = copyRepository("corrupt-wal");
    WalArchive.Entry e = WalArchive.list(cluster.store, newest(repo).stopSegment()).get(0);
    flipByte(repo.resolve(e.key()));
    assertThatThrownBy(() -> PointInTimeRestore.run(new FileSystemBlobStore(repo), cluster.restoreTo(null, "from-corrupt-wal")))
        .isInstanceOf(DrException.class).hasMessageContaining(e.key()).hasMessageContaining("corrupt");
  }

  @Test
  void a_missing_wal_segment_is_named() throws Exception {
    for (int i = 0; i < 2; i++) { // a segment after the gap, so the gap is not just the archive's end
      cluster.sql("INSERT INTO marker_log VALUES (" + (-1 - i) + ")");
      String segment;
      try (Connection c = cluster.connect(); Statement s = c.createStatement();
          ResultSet rs = s.executeQuery("SELECT pg_walfile_name(pg_current_wal_insert_lsn()), pg_switch_wal()")) {
        rs.next();
        segment = rs.getString(1);
      }
      cluster.archiver.awaitArchived(List.of(segment), Duration.ofSeconds(30));
    }
    Path repo = copyRepository("missing-wal");
    BackupManifest backup = newest(repo);
    String gap = WalArchive.segmentName(backup.timeline(), WalArchive.segno(backup.stopSegment()) + 1);
    Files.delete(repo.resolve(WalArchive.list(cluster.store, gap).get(0).key()));
    assertThatThrownBy(() -> PointInTimeRestore.run(new FileSystemBlobStore(repo), cluster.restoreTo(null, "from-gap")))
        .isInstanceOf(DrException.class).hasMessageContaining("WAL segment " + gap + " is missing");
    Files.delete(repo.resolve(WalArchive.list(cluster.store, backup.stopSegment()).get(0).key()));
    assertThatThrownBy(() -> PointInTimeRestore.run(new FileSystemBlobStore(repo), cluster.restoreTo(null, "from-gap2")))
        .isInstanceOf(DrException.class).hasMessageContaining("WAL segment " + backup.stopSegment() + " is missing")
        .hasMessageContaining("cannot become consistent");
  }

  @Test
  @Order(10)
  void verification_restores_the_newest_backup_and_reports_row_counts() {
    BackupVerifier.Result r = BackupVerifier.verify(cluster.store, tmp.resolve("verify"), TestCluster.PASSWORD,
        cluster.pg.binariesDir(), null);
    assertThat(r.ok()).as(String.valueOf(r.error())).isTrue();
    assertThat(r.checksumFailures()).isZero();
    assertThat(r.rowCounts()).containsEntry("postgres.public.marker_log", (long) commitTimes.size());
    assertThat(Files.exists(tmp.resolve("verify"))).as("scratch directory removed").isFalse();
    System.out.println("VERIFY: " + r);
    // kept across restarts of `up`, whole
    Path kept = tmp.resolve("state/last-verification.json");
    BackupVerifier.save(r, kept);
    assertThat(BackupVerifier.load(kept)).contains(r);
    assertThat(BackupVerifier.load(tmp.resolve("state/none.json"))).isEmpty();
  }

  @Test
  @Order(20)
  void retention_keeps_the_newest_backup_before_the_window_and_the_wal_it_needs() throws Exception {
    BackupManifest second = cluster.backup();
    Path repo = copyRepository("retention");
    FileSystemBlobStore store = new FileSystemBlobStore(repo);
    Duration retention = Duration.ofHours(1);
    // window start between the two backups: the first is the newest before it, and is kept
    BackupCatalog.Pruned p = BackupCatalog.prune(store, retention, second.stoppedAt().plus(Duration.ofMinutes(30)));
    assertThat(p.backups()).isEmpty();
    long firstStart = WalArchive.segno(backup.startSegment());
    assertThat(WalArchive.list(store)).filteredOn(e -> !e.isHistory()).allSatisfy(e -> assertThat(WalArchive.segno(e.name())).isGreaterThanOrEqualTo(firstStart));
    // both before the window start: only the newer is kept, and WAL from its start segment
    p = BackupCatalog.prune(store, retention, second.stoppedAt().plus(Duration.ofHours(2)));
    assertThat(p.backups()).containsExactly(backup.label());
    assertThat(BackupCatalog.backups(store)).extracting(BackupManifest::label).containsExactly(second.label());
    assertThat(store.list(BackupCatalog.objectPrefix(backup.label()))).isEmpty();
    long start = WalArchive.segno(second.startSegment());
    assertThat(WalArchive.list(store)).filteredOn(e -> !e.isHistory()).allSatisfy(e -> assertThat(WalArchive.segno(e.name())).isGreaterThanOrEqualTo(start));
    assertThat(WalArchive.list(store)).extracting(WalArchive.Entry::name).contains(second.startSegment(), second.stopSegment());
    // the only backup is never pruned, however old
    p = BackupCatalog.prune(store, retention, second.stoppedAt().plus(Duration.ofDays(365)));
    assertThat(p.backups()).isEmpty();
    PointInTimeRestore.Result r = PointInTimeRestore.run(store, cluster.restoreTo(null, "after-retention"));
    assertThat(r.backup()).isEqualTo(second.label());
  }

  private static BackupManifest newest(Path repo) {
    List<BackupManifest> all = BackupCatalog.backups(new FileSystemBlobStore(repo));
    return all.get(all.size() - 1);
  }

  private Set<Integer> committedBy(Instant t) {
    return commitTimes.entrySet().stream().filter(e -> !e.getValue().isAfter(t)).map(Map.Entry::getKey)
        .collect(Collectors.toCollection(TreeSet::new));
  }

  private TreeSet<Integer> restoreAndRead(Instant target, String dir) {
    TreeSet<Integer> out = new TreeSet<>();
    PointInTimeRestore.Result r = PointInTimeRestore.run(cluster.store, cluster.restoreTo(target, dir),
        (pg, c) -> out.addAll(Markers.seqs(c, "markers")));
    assertThat(r.lastTransaction()).isBeforeOrEqualTo(target);
    assertThat(r.target()).isEqualTo(Optional.of(target));
    return out;
  }

  private Path copyRepository(String name) throws IOException {
    Path from = tmp.resolve("live/archive");
    Path to = tmp.resolve(name + "-repo");
    try (var s = Files.walk(from)) {
      for (Path p : s.toList()) {
        Path q = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) Files.createDirectories(q);
        else Files.copy(p, q);
      }
    }
    return to;
  }

  private static void flipByte(Path file) throws IOException {
    byte[] b = Files.readAllBytes(file);
    b[b.length / 2] ^= 0x40;
    Files.write(file, b, StandardOpenOption.TRUNCATE_EXISTING);
  }
}
