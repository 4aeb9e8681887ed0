package io.bulwark.cli;

import io.bulwark.dr.BackupVerifier;
import io.bulwark.node.DataDir;
import io.bulwark.node.DbRepository;
import io.bulwark.node.DbStatus;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "verify", mixinStandardHelpOptions = true,
    description = {"Prove the backups restore: restore the newest backup and all archived WAL into a scratch directory,",
        "start it, read every table in full (data checksums are on: a damaged page fails the read), check that",
        "PostgreSQL counted no checksum failure and, if `up` runs, that task counts match the live database up to the",
        "restore point. The scratch copy is deleted. Exit 0 when it passes, 1 when not.",
        "`bulwark up` also runs this every day; its last result is in `bulwark db status`."})
final class DbVerifyCommand implements Callable<Integer> {
  @Option(names = "--data-dir", defaultValue = DataDir.DEFAULT, paramLabel = "DIR", description = "Data directory (default: ./${DEFAULT-VALUE})")
  Path dataDir;

  @Option(names = "--json", description = "Print the result as JSON")
  boolean json;

  @Override
  public Integer call() throws Exception {
    DataDir dir = new DataDir(dataDir);
    BackupVerifier.Result r;
    try (io.bulwark.core.blob.BlobStore repository = DbRepository.open(dir)) {
      r = BackupVerifier.verify(repository, dir.root().resolve("verify-scratch"), dir.pgPassword(), null,
          DbRepository.runningPrimary(dir).orElse(null));
    }
    if (json) {
      System.out.println(DbStatus.JSON.writeValueAsString(r));
    } else if (r.ok()) {
      long rows = r.rowCounts().values().stream().mapToLong(Long::longValue).sum();
      System.out.printf("Verification passed: backup %s restored to %s in %.1f s (%s, %.0f MB/s); %d tables, %d rows read,"
          + " 0 checksum failures; tasks: %s%n", r.backup(), r.restoredTo(), r.duration().toMillis() / 1000.0,
          DbRepository.mb(r.restoredBytes()), r.megabytesPerSecond(), r.rowCounts().size(), rows, r.taskCheck());
      for (Map.Entry<String, Long> e : r.rowCounts().entrySet()) System.out.printf("  %-50s %d%n", e.getKey(), e.getValue());
    } else {
      System.err.println("bulwark: verification FAILED: " + r.error());
    }
    return r.ok() ? 0 : 1;
  }
}
