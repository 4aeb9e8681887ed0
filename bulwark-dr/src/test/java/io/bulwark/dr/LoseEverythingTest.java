package io.bulwark.dr;

import io.bulwark.core.io.Fs;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LoseEverythingTest {
  @Test
  void after_losing_the_cluster_and_the_spool_a_restore_from_the_archive_alone_loses_at_most_5_seconds(@TempDir Path tmp)
      throws Exception {
    TestCluster c = new TestCluster(tmp);
    Markers.create(c);
    c.backup();
    Markers m = new Markers(c, 1);
    m.awaitCount(300);
    Thread.sleep(4000); // several switch periods under steady load
    c.pg.kill(); // SIGKILL the postmaster and its backends: the machine is gone
    m.close();
    c.switcher.close();
    c.archiver.close();
    Fs.deleteRecursively(c.pg.dataDir());
    Fs.deleteRecursively(c.spool);
    assertThat(Files.exists(c.pg.dataDir())).isFalse();

    TreeSet<Integer> restored = new TreeSet<>();
    PointInTimeRestore.Result r = PointInTimeRestore.run(c.store, c.restoreTo(null, "restored"),
        (pg, con) -> restored.addAll(Markers.seqs(con, "markers")));
    int lastAcked = m.acked.lastKey();
    int lastRestored = restored.last();
    Duration lost = Duration.between(m.acked.get(lastRestored), m.acked.get(lastAcked));
    System.out.println("LOSE EVERYTHING: last acknowledged marker " + lastAcked + ", last restored " + lastRestored + " ("
        + (lastAcked - lastRestored) + " markers, " + lost.toMillis() + " ms of acknowledged commits lost); restore took "
        + r.duration().toMillis() + " ms");
    assertThat(restored).as("no holes").hasSize(lastRestored).first().isEqualTo(1);
    assertThat(lost).isLessThanOrEqualTo(Duration.ofSeconds(5));
    assertThat(r.lastTransaction()).isBefore(Instant.now());
  }
}
