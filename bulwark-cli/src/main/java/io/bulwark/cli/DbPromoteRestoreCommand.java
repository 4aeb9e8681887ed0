package io.bulwark.cli;

import io.bulwark.core.BulwarkException;
import io.bulwark.dr.HaState;
import io.bulwark.node.DataDir;
import io.bulwark.node.DbRepository;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "promote-restore", mixinStandardHelpOptions = true,
    description = {"Put a restored database (from `bulwark db restore`) in service as the primary.",
        "",
        "`bulwark up` must be stopped. The current nodes DIR/pg-a and DIR/pg-b are moved aside to DIR/replaced-<time>/",
        "(nothing is deleted), the restored directory becomes DIR/pg-a and the primary; the next `up` rebuilds pg-b as",
        "its standby. Asks you to type 'promote' unless --yes."})
final class DbPromoteRestoreCommand implements Callable<Integer> {
  @Option(names = "--data-dir", defaultValue = DataDir.DEFAULT, paramLabel = "DIR", description = "Data directory (default: ./${DEFAULT-VALUE})")
  Path dataDir;

  @Option(names = "--from", required = true, paramLabel = "RESTORED", description = "The directory `bulwark db restore` restored into")
  Path from;

  @Option(names = "--yes", description = "Do not ask for confirmation")
  boolean yes;

  @Override
  public Integer call() throws Exception {
    return promote(new DataDir(dataDir), from.toAbsolutePath().normalize(), yes);
  }

  static void refuseWhileUp(DataDir dir) {
    if (DbRepository.upRunning(dir)) {
      throw new BulwarkException("`bulwark up` is running on " + dir.root() + "; a restored database can only be put in"
          + " service while it is stopped. Stop it with `bulwark down --data-dir " + dir.root() + "`, then run this again");
    }
  }

  static int promote(DataDir dir, Path restored, boolean yes) throws IOException {
    refuseWhileUp(dir);
    if (!Files.isRegularFile(restored.resolve("PG_VERSION")) || !Files.isRegularFile(restored.resolve("global/pg_control"))) {
      throw new BulwarkException(restored + " is not a restored PostgreSQL data directory (no PG_VERSION or global/pg_control);"
          + " pass the --target of `bulwark db restore`");
    }
    if (Files.exists(restored.resolve("recovery.signal")) || Files.exists(restored.resolve("postmaster.pid"))) {
      throw new BulwarkException(restored + " has not finished its restore (recovery.signal or postmaster.pid is there);"
          + " restore again into a new directory");
    }
    if (!Files.getFileStore(restored).equals(Files.getFileStore(dir.root()))) {
      throw new BulwarkException(restored + " is on another file system than " + dir.root() + ", so it cannot be moved into"
          + " place atomically; restore again with --target inside " + dir.root());
    }
    Path aside = dir.root().resolve("replaced-" + DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC).format(Instant.now()));
    HaState old = HaState.read(dir.haState()).orElse(new HaState("pg-a", 0));
    System.out.println("This puts " + restored + " in service as the primary database of " + dir.root() + ".");
    System.out.println("The current database (" + dir.pgNode("pg-a") + ", " + dir.pgNode("pg-b") + ") is moved to " + aside
        + " and no longer used: anything committed there after the restore point is NOT in the restored database.");
    if (!yes && !confirmed()) {
      System.err.println("bulwark: not confirmed; nothing changed");
      return 1;
    }
    Files.createDirectories(aside);
    for (String node : new String[] {"pg", "pg-a", "pg-b"}) {
      Path p = dir.root().resolve(node);
      if (Files.exists(p)) Files.move(p, aside.resolve(node), StandardCopyOption.ATOMIC_MOVE);
    }
    Files.move(restored, dir.pgNode("pg-a"), StandardCopyOption.ATOMIC_MOVE);
    new HaState("pg-a", old.generation() + 1).write(dir.haState());
    System.out.println("Done: the restored database is " + dir.pgNode("pg-a") + ", primary (generation " + (old.generation() + 1)
        + "). Start with `bulwark up --data-dir " + dir.root() + "`; it rebuilds pg-b as the standby. The old nodes are in "
        + aside + "; delete them once you are sure.");
    return 0;
  }

  private static boolean confirmed() throws IOException {
    System.out.print("Type 'promote' to go on: ");
    System.out.flush();
    String line = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
    return line != null && line.strip().equals("promote");
  }
}
