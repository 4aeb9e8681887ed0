package io.bulwark.dr;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** libpq connection-string values reach postgresql.conf quoted: a path with a space or a quote stays one value. */
class ConninfoTest {
  @Test
  void values_are_single_quoted_with_quotes_and_backslashes_escaped() {
    assertThat(DatabaseMember.conninfoValue("/data/bulwark data/pg-passfile")).isEqualTo("'/data/bulwark data/pg-passfile'");
    assertThat(DatabaseMember.conninfoValue("it's\\here")).isEqualTo("'it\\'s\\\\here'");
  }

  @Test
  void the_one_machine_standby_conninfo_quotes_its_passfile() {
    String conninfo = FailoverController.replicationSettings("pg-b", 5433, "bulwark_replication", Path.of("/var/lib/my data/pg-passfile"))
        .get("primary_conninfo");
    assertThat(conninfo).contains("passfile='/var/lib/my data/pg-passfile'").contains("user='bulwark_replication'");
  }
}
