package io.bulwark.dr;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** File helpers: private modes (PostgreSQL wants 0700/0600), fsync, recursive deletes. */
final class Fs {
  private static final Logger log = LoggerFactory.getLogger(Fs.class);
  static final FileAttribute<Set<PosixFilePermission>> PRIVATE_FILE =
      PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));
  private static final Set<PosixFilePermission> PRIVATE_DIR = PosixFilePermissions.fromString("rwx------");

  private Fs() {}

  /** Makes a file's content, or a directory's entries (creations, renames, deletions), durable. */
  static void fsync(Path fileOrDirectory) throws IOException {
    try (FileChannel c = FileChannel.open(fileOrDirectory, StandardOpenOption.READ)) {
      c.force(true);
    }
  }

  /** Replaces {@code file} with {@code data}, durably: a temp file, fsynced, renamed over it, the directory fsynced. */
  static void writeAtomically(Path file, byte[] data) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.write(tmp, data);
    fsync(tmp);
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    fsync(dir);
  }

  /** Creates file if it is missing (empty; a marker such as standby.signal) and makes it durable. */
  static void touchSynced(Path file) {
    try (FileChannel c = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
      c.force(true);
    } catch (IOException e) {
      throw new DrException("cannot write " + file + ": " + e, e);
    }
  }

  static void createPrivateDir(Path dir) {
    try {
      Files.createDirectories(dir);
      Files.setPosixFilePermissions(dir, PRIVATE_DIR);
    } catch (IOException e) {
      throw new DrException("cannot create directory " + dir + ": " + e, e);
    }
  }

  /** An empty private directory at dir, deleting what was there. */
  static void recreate(Path dir) {
    deleteRecursively(dir);
    createPrivateDir(dir);
  }

  static void deleteRecursively(Path root) {
    if (!Files.exists(root)) return;
    try {
      Files.walkFileTree(root, new SimpleFileVisitor<>() {
        @Override
        public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
          Files.deleteIfExists(file);
          return FileVisitResult.CONTINUE;
        }

        @Override
        public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
          Files.deleteIfExists(dir);
          return FileVisitResult.CONTINUE;
        }

        @Override
        public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
          if (e instanceof NoSuchFileException) return FileVisitResult.CONTINUE;
          throw e;
        }
      });
    } catch (IOException e) {
      throw new DrException("cannot delete " + root + ": " + e, e);
    }
  }

  static void deleteQuietly(Path root) {
    try {
      deleteRecursively(root);
    } catch (DrException e) {
      log.warn("{}", e.getMessage());
    }
  }

  static long size(Path root) {
    try (var s = Files.walk(root)) {
      return s.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
    } catch (IOException e) {
      return -1;
    }
  }
}
