package io.bulwark.node;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataDirTest {
  @TempDir Path work;

  @Test
  void the_data_directory_and_everything_it_creates_are_private_to_the_bulwark_user() throws Exception {
    // regression: created with the default umask (world-readable at 022: tenants' blobs, backups, logs)
    DataDir dir = new DataDir(work.resolve("data"));
    dir.create();
    for (Path p : new Path[] {dir.root(), dir.blobs(), dir.handlers(), dir.logs(), dir.run(), dir.walSpool(), dir.archive()}) {
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(p))).as(p.toString()).isEqualTo("rwx------");
    }
  }

  @Test
  void an_existing_data_directory_of_an_earlier_version_is_made_private_at_start() throws Exception {
    Path old = Files.createDirectories(work.resolve("old/blobs"));
    Files.setPosixFilePermissions(old, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.setPosixFilePermissions(old.getParent(), PosixFilePermissions.fromString("rwxr-xr-x"));
    new DataDir(old.getParent()).create();
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(old.getParent()))).isEqualTo("rwx------");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(old))).isEqualTo("rwx------");
  }
}
