package io.bulwark.embedded;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.stream.Stream;

/** Durable file operations. */
final class Fs {
  static final Set<PosixFilePermission> PRIVATE_FILE = PosixFilePermissions.fromString("rw-------");
  static final Set<PosixFilePermission> PRIVATE_DIR = PosixFilePermissions.fromString("rwx------");

  private Fs() {}

  static FileAttribute<Set<PosixFilePermission>> attribute(Set<PosixFilePermission> permissions) {
    return PosixFilePermissions.asFileAttribute(permissions);
  }

  /** Writes a new file (mode 0600, or as the existing one) and fsyncs it. */
  static void writeSynced(Path file, byte[] content) throws IOException {
    try (FileChannel channel =
        FileChannel.open(
            file,
            Set.of(StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE),
            attribute(PRIVATE_FILE))) {
      OutputStream out = Channels.newOutputStream(channel);
      out.write(content);
      channel.force(true);
    }
  }

  /**
   * Replaces file atomically: a crash leaves either the old or the new content, never a torn
   * file. The new file has mode 0600.
   */
  static void replaceAtomically(Path file, byte[] content) throws IOException {
    Path temp = file.resolveSibling(file.getFileName() + ".tmp");
    writeSynced(temp, content);
    Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    fsyncDirectory(file.toAbsolutePath().getParent());
  }

  /** Makes the directory's entries (creations, renames, deletions) durable. */
  static void fsyncDirectory(Path dir) throws IOException {
    try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
      channel.force(true);
    }
  }

  /** Deletes a tree without following symbolic links; makes directories writable first. */
  static void deleteRecursively(Path root) throws IOException {
    if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
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

  /** Deletes everything inside dir, keeping dir. */
  static void deleteContents(Path dir) throws IOException {
    try (Stream<Path> children = Files.list(dir)) {
      for (Path child : children.toList()) {
        deleteRecursively(child);
      }
    }
  }
}
