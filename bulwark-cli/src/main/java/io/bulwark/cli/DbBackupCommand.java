package io.bulwark.cli;

import io.bulwark.core.BulwarkException;
import io.bulwark.dr.BackupManifest;
import io.bulwark.dr.BaseBackups;
import io.bulwark.dr.PrimaryAccess;
import io.bulwark.node.DataDir;
import io.bulwark.node.DbRepository;
import java.nio.file.Path;
import java.sql.Connection;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "backup", mixinStandardHelpOptions = true,
    description = {"Take a base backup of the running primary now, into the repository (DIR/archive).",
        "", "Needs `bulwark up` running on DIR: its WAL archiver uploads the WAL the backup needs. The database stays",
        "in service. `up` also takes one at start (if none exists) and every day."})
final class DbBackupCommand implements Callable<Integer> {
  @Option(names = "--data-dir", defaultValue = DataDir.DEFAULT, paramLabel = "DIR", description = "Data directory (default: ./${DEFAULT-VALUE})")
  Path dataDir;

  @Override
  public Integer call() throws Exception {
    DataDir dir = new DataDir(dataDir);
    PrimaryAccess primary = DbRepository.runningPrimary(dir).orElseThrow(() -> new BulwarkException(
        "bulwark db backup needs `bulwark up` running on " + dir.root() + " (a backup is taken from the live primary,"
            + " and up's archiver uploads its WAL); start it with `bulwark up --data-dir " + dir.root() + "`"));
    try (Connection c = primary.connect(); io.bulwark.core.blob.BlobStore repository = DbRepository.open(dir)) {
      BackupManifest m = BaseBackups.take(c, primary.dataDir(), repository, null, BaseBackups.DEFAULT_ARCHIVE_WAIT);
      System.out.println("Backup " + m.label() + " complete: " + m.files().size() + " files, " + DbRepository.mb(m.bytes())
          + " (" + DbRepository.mb(m.storedBytes()) + " stored), WAL " + m.startSegment() + ".." + m.stopSegment());
    }
    return 0;
  }
}
