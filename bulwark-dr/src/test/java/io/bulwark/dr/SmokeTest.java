package io.bulwark.dr;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SmokeTest {
  @Test
  void backup_and_restore_latest(@TempDir Path tmp) throws Exception {
    try (TestCluster c = new TestCluster(tmp)) {
      c.sql("CREATE TABLE t (id int)");
      c.sql("INSERT INTO t SELECT generate_series(1, 1000)");
      BackupManifest m = c.backup();
      System.out.println("backup " + m.label() + " files " + m.files().size() + " bytes " + m.bytes() + " stored " + m.storedBytes());
      c.sql("INSERT INTO t SELECT generate_series(1001, 1500)");
      c.sql("SELECT pg_switch_wal()");
      String seg;
      try (Connection con = c.connect(); Statement s = con.createStatement();
          ResultSet rs = s.executeQuery("SELECT pg_walfile_name(pg_current_wal_lsn())")) {
        rs.next();
        seg = rs.getString(1);
      }
      System.out.println(BackupCatalog.list(c.store));
      PointInTimeRestore.Result r = PointInTimeRestore.run(c.store, c.restoreTo(null, "restored"), (pg, con) -> {
        try (Statement s = con.createStatement(); ResultSet rs = s.executeQuery("SELECT count(*) FROM t")) {
          rs.next();
          assertThat(rs.getLong(1)).isEqualTo(1500);
        }
      });
      System.out.println(r + " " + r.megabytesPerSecond() + " " + seg);
    }
  }
}
