package io.bulwark.cli;

import io.bulwark.dr.BackupCatalog;
import io.bulwark.dr.BackupManifest;
import io.bulwark.node.DataDir;
import io.bulwark.node.DbRepository;
import io.bulwark.node.DbStatus;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "backups", mixinStandardHelpOptions = true,
    description = {"List the base backups in the repository (DIR/archive) and the window of times a restore can reach.",
        "", "The window runs from the oldest backup's end to the newest archived WAL."})
final class DbBackupsCommand implements Callable<Integer> {
  @Option(names = "--data-dir", defaultValue = DataDir.DEFAULT, paramLabel = "DIR", description = "Data directory (default: ./${DEFAULT-VALUE})")
  Path dataDir;

  @Option(names = "--json", description = "Print JSON: {backups: [...], window: {from, to}, walFiles, newestWal}")
  boolean json;

  @Override
  public Integer call() throws Exception {
    DataDir dir = new DataDir(dataDir);
    BackupCatalog.Listing l;
    try (io.bulwark.core.blob.BlobStore repository = DbRepository.open(dir)) {
      l = BackupCatalog.list(repository);
    }
    if (json) {
      var root = DbStatus.JSON.createObjectNode();
      var arr = root.putArray("backups");
      for (BackupManifest b : l.backups()) {
        arr.addObject().put("label", b.label()).put("timeline", b.timeline()).put("startedAt", b.startedAt().toString())
            .put("stoppedAt", b.stoppedAt().toString()).put("bytes", b.bytes()).put("storedBytes", b.storedBytes())
            .put("files", b.files().size()).put("startSegment", b.startSegment()).put("stopSegment", b.stopSegment());
      }
      l.window().ifPresent(w -> root.putObject("window").put("from", w.from().toString()).put("to", w.to().toString()));
      root.put("walFiles", l.walFiles());
      root.put("newestWal", l.newestWal());
      System.out.println(DbStatus.JSON.writeValueAsString(root));
      return 0;
    }
    if (l.backups().isEmpty()) {
      System.out.println("No complete base backup in " + dir.archive() + "; `bulwark up` takes one at start, or run"
          + " `bulwark db backup` while it runs.");
      return 0;
    }
    System.out.printf("%-20s %-4s %-30s %-11s %-11s %s%n", "LABEL", "TLI", "FINISHED", "SIZE", "STORED", "WAL");
    for (BackupManifest b : l.backups()) {
      System.out.printf("%-20s %-4d %-30s %-11s %-11s %s..%s%n", b.label(), b.timeline(), b.stoppedAt(),
          DbRepository.mb(b.bytes()), DbRepository.mb(b.storedBytes()), b.startSegment(), b.stopSegment());
    }
    System.out.println();
    System.out.println("Restorable window: " + l.window().map(Object::toString).orElse("none"));
    System.out.println("Archived WAL files: " + l.walFiles() + (l.newestWal() != null ? ", newest segment " + l.newestWal() : ""));
    return 0;
  }
}
