package io.bulwark.core.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Durable, private file operations, one set for every module: files written 0600 and directories
 * created 0700 (PostgreSQL demands it of its data directory, and secrets and state deserve it), writes
 * that survive a power loss (file and directory fsynced), replacements that leave the old or the new
 * content and never a torn file, and deletes that never follow a symbolic link out of the tree.
 * Methods throw {@link IOException}; callers say in their own exception what they were doing.
 */
public final class Fs {
  private static final Logger log = LoggerFactory.getLogger(Fs.class);
  public static final Set<PosixFilePermission> PRIVATE_FILE = PosixFilePermissions.fromString("rw-------");
  public static final Set<PosixFilePermission> PRIVATE_DIR = PosixFilePermissions.fromString("rwx------");

  private Fs() {}

  public static FileAttribute<Set<PosixFilePermission>> attribute(Set<PosixFilePermission> permissions) {
    return PosixFilePermissions.asFileAttribute(permissions);
  }

  /** Makes a file's content, or a directory's entries (creations, renames, deletions), durable. */
  public static void fsync(Path fileOrDirectory) throws IOException {
    try (FileChannel c = FileChannel.open(fileOrDirectory, StandardOpenOption.READ)) {
      c.force(true);
    }
  }

  /** Writes {@code file} (created 0600; an existing one keeps its mode) and fsyncs it. */
  public static void writeSynced(Path file, byte[] content) throws IOException {
    try (FileChannel c = FileChannel.open(file,
        Set.of(StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE), attribute(PRIVATE_FILE))) {
      ByteBuffer buf = ByteBuffer.wrap(content);
      while (buf.hasRemaining()) c.write(buf);
      c.force(true);
    }
  }

  /**
   * Replaces {@code file} with {@code content} atomically and durably: a 0600 temp file, fsynced,
   * renamed over it, the directory fsynced. A crash leaves the old content or the new, never a mix.
   */
  public static void writeAtomically(Path file, byte[] content) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.deleteIfExists(tmp); // a leftover of a crash may have another mode
    writeSynced(tmp, content);
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    fsync(dir);
  }

  /** Creates {@code file} if it is missing (empty; a marker such as standby.signal) and makes it durable. */
  public static void touchSynced(Path file) throws IOException {
    try (FileChannel c = FileChannel.open(file, Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE), attribute(PRIVATE_FILE))) {
      c.force(true);
    }
    fsync(file.toAbsolutePath().getParent());
  }

  /** Creates {@code dir} (and missing parents) and makes it 0700. */
  public static void createPrivateDir(Path dir) throws IOException {
    Files.createDirectories(dir);
    Files.setPosixFilePermissions(dir, PRIVATE_DIR);
  }

  /** An empty 0700 directory at {@code dir}, deleting what was there. */
  public static void recreatePrivateDir(Path dir) throws IOException {
    deleteRecursively(dir);
    createPrivateDir(dir);
  }

  /** Deletes a tree without following symbolic links; makes directories writable first. */
  public static void deleteRecursively(Path root) throws IOException {
    if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) return;
    if (Files.isDirectory(root, LinkOption.NOFOLLOW_LINKS)) {
      try {
        Files.setPosixFilePermissions(root, PRIVATE_DIR);
      } catch (IOException ignored) {
        // try to delete anyway
      }
      deleteContents(root);
    }
    Files.deleteIfExists(root);
  }

  /** Deletes everything inside {@code dir}, keeping {@code dir}. */
  public static void deleteContents(Path dir) throws IOException {
    try (Stream<Path> children = Files.list(dir)) {
      for (Path child : children.toList()) deleteRecursively(child);
    } catch (NoSuchFileException gone) {
      // deleted meanwhile: nothing left to do
    }
  }

  /** {@link #deleteRecursively}, logging instead of throwing: for scratch space. False when it failed. */
  public static boolean deleteQuietly(Path root) {
    try {
      deleteRecursively(root);
      return true;
    } catch (IOException e) {
      log.warn("cannot delete {}: {}", root, e.toString());
      return false;
    }
  }

  /** Bytes in the regular files under {@code root}; -1 when it cannot be read. */
  public static long size(Path root) {
    try (Stream<Path> s = Files.walk(root)) {
      return s.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
    } catch (IOException | java.io.UncheckedIOException e) {
      return -1;
    }
  }
}
