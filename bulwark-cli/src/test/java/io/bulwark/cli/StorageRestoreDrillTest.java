package io.bulwark.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.bulwark.azure.AzuriteServer;
import io.bulwark.node.Component;
import io.bulwark.node.DataDir;
import io.bulwark.node.LocalDeployment;
import io.bulwark.node.Ports;
import io.bulwark.node.StorageLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The worst storage disaster issue 12 plans for: the database node and the active storage region lost
 * at once, under load. The point-in-time restore must work from the surviving region alone and lose at
 * most 5 s of committed data.
 */
class StorageRestoreDrillTest {
  private static final Pattern LAST = Pattern.compile("last transaction ([0-9T:.Z-]+)");
  @TempDir Path root;

  @Test
  void the_database_and_the_active_region_lost_restore_from_the_surviving_region_loses_at_most_5_s() throws Exception {
    Instant disaster;
    StorageLayout.Region b;
    try (LocalDeployment d = new LocalDeployment(new DataDir(root), LocalDeployment.Options.defaults().withMonitoring(LocalDeployment.Monitoring.OFF).withPort(Ports.free()).withWorkers(1)
        .withStandby(false).withStorage(LocalDeployment.Storage.AZURITE))) {
      d.start();
      await().atMost(Duration.ofSeconds(120)).until(() -> d.backups().newestBackup().isPresent());
      try (SteadyLoad load = new SteadyLoad("http://127.0.0.1:" + d.entryPort(), d.adminKey(), 50, 2)) {
        await().atMost(Duration.ofSeconds(30)).until(() -> load.ok.get() > 400);
        Component regionA = d.storageRegions().get(0);
        Component pg = d.postgres();
        d.supervisor().forget(regionA);
        d.supervisor().forget(pg);
        regionA.process.destroyForcibly(); // the active region is gone
        pg.process.destroyForcibly(); // and the database with it
        disaster = Instant.now();
        pg.process.waitFor();
        await().atMost(Duration.ofSeconds(5)).until(() -> !Ports.accepts(pg.port, 200));
        System.out.printf("DRILL storage restore-from-surviving-region: %d tasks acknowledged before the kill; spool %s%n", load.ok.get(),
            java.util.Arrays.toString(root.resolve("wal-spool").toFile().list()));
      }
      b = d.storage().regions().get(1);
    }
    // what is left: region b, started on its own (the deployment and region a are gone)
    Process regionB = AzuriteServer.command(root.resolve("azurite-b"), b.port(), b.account(), b.key()).redirectErrorStream(true)
        .redirectOutput(root.resolve("logs/azurite-b-alone.log").toFile()).start();
    try {
      await().atMost(Duration.ofSeconds(30)).until(() -> Ports.accepts(b.port(), 200));
      String out = DatabaseFailoverDrillTest.cli("db", "restore", "--data-dir", root.toString(), "--target", root.resolve("restored").toString());
      assertThat(out).startsWith("0\n").contains("Restored backup");
      Matcher m = LAST.matcher(out);
      assertThat(m.find()).as(out).isTrue();
      Instant last = Instant.parse(m.group(1));
      long lostMs = Duration.between(last, disaster).toMillis();
      System.out.printf("DRILL storage restore-from-surviving-region: last restored transaction %d ms before the database and region a"
          + " were killed (target <= 5000 ms)%n", lostMs);
      assertThat(lostMs).isLessThanOrEqualTo(5_000);
    } finally {
      regionB.destroyForcibly();
    }
  }
}
