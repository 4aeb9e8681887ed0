package io.bulwark.dr;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * Restore throughput, not part of CI: builds a ~1 GiB database, backs it up, keeps committing for
 * a few seconds, then restores to a chosen second in the middle and reports seconds and MB/s.
 *
 * <pre>mvn -B -ntp -pl bulwark-dr verify -Dtest=RestoreBench -Dbench=restore [-Dbench.mib=1024]</pre>
 */
@EnabledIfSystemProperty(named = "bench", matches = "restore")
class RestoreBench {
  @Test
  void restore_a_1_gib_database_to_a_chosen_second(@TempDir Path tmp) throws Exception {
    int mib = Integer.getInteger("bench.mib", 1024);
    try (TestCluster c = new TestCluster(tmp)) {
      long t0 = System.nanoTime();
      c.sql("CREATE TABLE bulk (id bigint PRIMARY KEY, body text)");
      // ~1 KiB rows of random hex text (compresses about 2:1, like task payloads and results) until the
      // database is mib MiB
      String body = String.join(" || ", java.util.Collections.nCopies(30, "md5(random()::text)"));
      long size = 0;
      for (long b = 0; size < mib * 1024L * 1024L; b++) {
        c.sql("INSERT INTO bulk SELECT i, " + body + " FROM generate_series(" + (b * 50_000 + 1) + ", " + ((b + 1) * 50_000) + ") i");
        try (Connection con = c.connect(); Statement s = con.createStatement();
            ResultSet rs = s.executeQuery("SELECT pg_database_size('postgres')")) {
          rs.next();
          size = rs.getLong(1);
        }
      }
      System.out.printf("BENCH built %.0f MB (%.2f GiB) in %.1f s%n", size / 1e6, size / 1073741824.0, (System.nanoTime() - t0) / 1e9);
      long b0 = System.nanoTime();
      BackupManifest m = c.backup();
      double backupSeconds = (System.nanoTime() - b0) / 1e9;
      System.out.printf("BENCH backup %s: %.0f MB (%.0f MB stored) in %.1f s, %.0f MB/s%n", m.label(), m.bytes() / 1e6,
          m.storedBytes() / 1e6, backupSeconds, m.bytes() / 1e6 / backupSeconds);
      c.sql("CREATE TABLE ticks (n int, at timestamptz DEFAULT clock_timestamp())");
      Instant chosen = null;
      for (int i = 1; i <= 40; i++) {
        c.sql("INSERT INTO ticks (n) VALUES (" + i + ")");
        if (i == 20) chosen = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
        Thread.sleep(100);
      }
      String segment;
      try (Connection con = c.connect(); Statement s = con.createStatement();
          ResultSet rs = s.executeQuery("SELECT pg_walfile_name(pg_current_wal_insert_lsn()), pg_switch_wal()")) {
        rs.next();
        segment = rs.getString(1);
      }
      c.archiver.awaitArchived(List.of(segment), Duration.ofSeconds(60));
      Instant target = chosen;
      long[] ticks = {0};
      PointInTimeRestore.Result r = PointInTimeRestore.run(c.store, c.restoreTo(target, "restored"), (pg, con) -> {
        try (Statement s = con.createStatement(); ResultSet rs = s.executeQuery("SELECT count(*) FROM ticks WHERE at > '"
            + PointInTimeRestore.pgTimestamp(target) + "'")) {
          rs.next();
          ticks[0] = rs.getLong(1);
        }
      });
      assertThat(ticks[0]).as("nothing after the chosen second").isZero();
      System.out.printf("BENCH restore to %s (a chosen second): %.0f MB of files + %.0f MB of WAL (%d files) in %.1f s end to end,"
          + " %.0f MB/s%n", target, r.dataBytes() / 1e6, r.walBytes() / 1e6, r.walFiles(), r.duration().toMillis() / 1000.0,
          r.megabytesPerSecond());
    }
  }
}
