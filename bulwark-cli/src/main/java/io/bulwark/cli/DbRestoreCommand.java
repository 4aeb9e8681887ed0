package io.bulwark.cli;

import io.bulwark.dr.PointInTimeRestore;
import io.bulwark.node.DataDir;
import io.bulwark.node.DbRepository;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "restore", mixinStandardHelpOptions = true,
    description = {"Restore the database as of a point in time into a NEW data directory (never over the live one).",
        "",
        "Uses the newest base backup finished at or before --time and replays archived WAL up to it: every transaction",
        "committed at or before --time is restored, none after. Without --time: the end of the archive.",
        "Every file and WAL segment is checked against its SHA-256. Then put it in service with --promote (or later",
        "with `bulwark db promote-restore --from DIR`)."})
final class DbRestoreCommand implements Callable<Integer> {
  @Option(names = "--data-dir", defaultValue = DataDir.DEFAULT, paramLabel = "DIR", description = "Data directory (default: ./${DEFAULT-VALUE})")
  Path dataDir;

  @Option(names = "--time", paramLabel = "ISO-8601", description = "Restore to this time, e.g. 2026-11-26T01:30:00Z (default: the end of the archive)")
  String time;

  @Option(names = "--target", paramLabel = "DIR", description = "New data directory to restore into; must not exist or be empty (default: DIR/restore-<time>)")
  Path target;

  @Option(names = "--promote", description = "Then put the restored database in service (asks to confirm; `up` must be stopped)")
  boolean promote;

  @Option(names = "--yes", description = "Do not ask for confirmation")
  boolean yes;

  @Override
  public Integer call() throws Exception {
    DataDir dir = new DataDir(dataDir);
    Optional<Instant> at = Optional.ofNullable(time).map(DbRepository::parseTime);
    Path into = target != null ? target.toAbsolutePath().normalize()
        : dir.root().resolve("restore-" + DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC).format(Instant.now()));
    if (promote) DbPromoteRestoreCommand.refuseWhileUp(dir);
    System.out.println("Restoring " + at.map(Instant::toString).orElse("to the end of the archive") + " into " + into + " ...");
    PointInTimeRestore.Result r;
    try (io.bulwark.core.blob.BlobStore repository = DbRepository.open(dir)) { // closed: its replicator must not outlive the command
      r = PointInTimeRestore.run(repository, new PointInTimeRestore.Request(at, into, dir.pgPassword(), null, true));
    }
    System.out.printf("Restored backup %s into %s: last transaction %s, timeline %d.%n", r.backup(), into,
        r.lastTransaction(), r.timeline());
    System.out.printf("  %s of files and %s of WAL (%d files) in %.1f s: %.0f MB/s%n", DbRepository.mb(r.dataBytes()),
        DbRepository.mb(r.walBytes()), r.walFiles(), r.duration().toMillis() / 1000.0, r.megabytesPerSecond());
    if (!promote) {
      System.out.println("Put it in service with: bulwark db promote-restore --from " + into + " --data-dir " + dir.root());
      return 0;
    }
    return DbPromoteRestoreCommand.promote(dir, into, yes);
  }
}
