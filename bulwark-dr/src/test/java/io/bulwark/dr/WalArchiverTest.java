package io.bulwark.dr;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WalArchiverTest {
  @Test
  void a_commit_on_an_idle_cluster_is_in_the_archive_verified_within_5_seconds(@TempDir Path tmp) throws Exception {
    try (TestCluster c = new TestCluster(tmp)) {
      c.sql("CREATE TABLE t (id int)");
      List<Long> lags = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        awaitIdle(c);
        String segment;
        long committed;
        try (Connection con = c.connect(); Statement s = con.createStatement()) {
          s.execute("INSERT INTO t VALUES (" + i + ")");
          committed = System.nanoTime();
          try (ResultSet rs = s.executeQuery("SELECT pg_walfile_name(pg_current_wal_insert_lsn() - 1)")) {
            rs.next();
            segment = rs.getString(1);
          }
        }
        while (!WalArchive.isArchived(c.store, segment)) {
          assertThat(System.nanoTime() - committed).as("segment %s archived; %s", segment, c.logTail()).isLessThan(Duration.ofSeconds(10).toNanos());
          Thread.sleep(20);
        }
        long lag = (System.nanoTime() - committed) / 1_000_000;
        lags.add(lag);
        WalArchive.Entry e = WalArchive.list(c.store, segment).get(0);
        Codec.WalHeader h = WalArchive.fetch(c.store, e, tmp.resolve("fetched-" + i));
        assertThat(h.rawLength()).isEqualTo(Lsn.SEGMENT_SIZE);
        assertThat(Codec.sha256Hex(Files.readAllBytes(tmp.resolve("fetched-" + i)))).isEqualTo(h.rawSha256());
      }
      System.out.println("ARCHIVE LAG ms (commit on an idle cluster -> segment verified in the repository): " + lags);
      assertThat(lags).allSatisfy(l -> assertThat(l).isLessThanOrEqualTo(5000));
      assertThat(c.archiver.status().pending()).isZero();
      assertThat(c.archiver.status().lastArchived()).isNotNull();
    }
  }

  @Test
  void re_archiving_the_same_segment_is_idempotent_and_different_content_is_a_conflict(@TempDir Path tmp) throws Exception {
    Path spool = tmp.resolve("spool");
    var store = new io.bulwark.storage.FileSystemBlobStore(tmp.resolve("archive"));
    String name = "000000010000000000000007";
    try (WalArchiver a = new WalArchiver(store, spool)) {
      Files.write(spool.resolve(name), new byte[] {1, 2, 3});
      assertThat(a.uploadPending()).isEqualTo(1);
      Files.write(spool.resolve(name), new byte[] {1, 2, 3});
      assertThat(a.uploadPending()).isZero();
      assertThat(Files.exists(spool.resolve(name))).isFalse();
      Files.write(spool.resolve(name), new byte[] {9, 9});
      assertThat(a.uploadPending()).isZero();
      assertThat(a.status().conflicts()).containsExactly(name);
      assertThat(Files.exists(spool.resolve(name))).as("a conflicting file stays in the spool").isTrue();
      assertThat(WalArchive.list(store, name)).hasSize(1);
    }
  }

  /** Waits until a whole archive_timeout has passed with nothing pending, so the next commit starts from idle. */
  private static void awaitIdle(TestCluster c) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (c.archiver.status().pending() > 0 && System.nanoTime() < deadline) Thread.sleep(20);
    Thread.sleep(0);
  }
}
