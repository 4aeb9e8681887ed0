package io.bulwark.storage;

import io.bulwark.core.blob.BlobException;
import io.bulwark.core.blob.BlobRef;
import io.bulwark.core.blob.BlobStore;
import io.bulwark.core.blob.VerifyingInputStream;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link BlobStore} keeping each blob as a file under a root directory: key {@code a/b/c} is the
 * file {@code root/a/b/c}.
 *
 * <p>{@link #put} streams into a hidden temp file ({@code .tmp-<random>}) in the target directory,
 * hashing as it writes, fsyncs it, atomically renames it over the final name and fsyncs the
 * directories whose entries changed, so a crash leaves either the old blob or the new one. Temp
 * names can never be valid keys (segments may not start with '.'), so they never collide with blobs
 * and {@link #list} skips them. Reads verify size and SHA-256 against the {@link BlobRef}.
 *
 * <p>Because keys map to paths, one key cannot be both a blob and a directory of other blobs
 * ({@code a} and {@code a/b}); such a put fails with a {@link BlobException}. Deleting a blob
 * removes directories it leaves empty. The store holds no mutable state and is thread-safe;
 * concurrent puts of one key each rename a complete file, and the last rename wins.
 */
public final class FileSystemBlobStore implements BlobStore {
  private static final Logger log = LoggerFactory.getLogger(FileSystemBlobStore.class);
  private static final String TMP_PREFIX = ".tmp-";
  private static final int BUFFER = 64 * 1024;
  private static final int MAX_ARRAY = Integer.MAX_VALUE - 8;

  private final Path root;

  public FileSystemBlobStore(Path root) {
    Path dir = root.toAbsolutePath().normalize();
    try {
      // tenants' data: the root is private to the Bulwark user (0700), and so is every blob (0600)
      boolean existed = Files.isDirectory(dir);
      Files.createDirectories(dir);
      if (!existed) Files.setPosixFilePermissions(dir, io.bulwark.core.io.Fs.PRIVATE_DIR);
      this.root = dir.toRealPath(); // symlinks resolved, so path prefix checks and walks are exact
    } catch (IOException e) {
      throw new BlobException("creating the blob directory " + dir + " failed: " + e
          + "; check that its parent exists and the Bulwark process may write to it", e);
    }
  }

  @Override
  public BlobRef put(String key, InputStream data) {
    Objects.requireNonNull(data, "data");
    Path target = resolve(key);
    Path dir = target.getParent();
    if (Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
      throw new BlobException("cannot store blob '" + key + "' in " + describe() + ": " + target
          + " is a directory of other blobs; a filesystem store cannot hold both 'k' and 'k/...'");
    }
    Path existing = dir;
    while (!existing.equals(root) && !Files.isDirectory(existing)) existing = existing.getParent();
    Path tmp = dir.resolve(TMP_PREFIX + Long.toHexString(ThreadLocalRandom.current().nextLong()));
    boolean moved = false;
    try {
      MessageDigest sha = sha256();
      long size = 0;
      try (FileChannel ch = createTemp(dir, tmp); OutputStream out = Channels.newOutputStream(ch)) {
        byte[] buf = new byte[BUFFER];
        for (int n; (n = readSource(data, buf, key)) != -1; size += n) {
          sha.update(buf, 0, n);
          out.write(buf, 0, n);
        }
        ch.force(true);
      }
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      moved = true;
      // The new file's entry is in dir; directories created for it have entries up to `existing`.
      for (Path d = dir; ; d = d.getParent()) {
        fsyncDirectory(d);
        if (d.equals(existing) || d.equals(root)) break;
      }
      return new BlobRef(key, size, HexFormat.of().formatHex(sha.digest()));
    } catch (IOException e) {
      throw failure("writing blob '" + key + "' to", target, e);
    } finally {
      if (!moved) deleteQuietly(tmp);
    }
  }

  @Override
  public byte[] get(BlobRef ref) {
    if (ref.size() > MAX_ARRAY) {
      throw new BlobException("blob '" + ref.key() + "' is " + ref.size()
          + " bytes, too large to read into memory; stream it with open() instead");
    }
    try (InputStream in = open(ref)) {
      byte[] data = new byte[(int) ref.size()];
      in.readNBytes(data, 0, data.length);
      in.read(); // reaches end of data, where the stream verifies size and checksum
      return data;
    } catch (IOException e) {
      throw failure("reading blob '" + ref.key() + "' from", resolve(ref.key()), e);
    }
  }

  @Override
  public InputStream open(BlobRef ref) {
    Path path = resolve(ref.key());
    try {
      if (!Files.isRegularFile(path)) throw new BlobException.NotFound(describe(), ref.key());
      return new VerifyingInputStream(new BufferedInputStream(Files.newInputStream(path), BUFFER), ref, describe());
    } catch (NoSuchFileException e) {
      throw new BlobException.NotFound(describe(), ref.key());
    } catch (IOException e) {
      throw failure("opening blob '" + ref.key() + "' at", path, e);
    }
  }

  @Override
  public boolean exists(String key) {
    return Files.isRegularFile(resolve(key));
  }

  @Override
  public boolean delete(String key) {
    Path path = resolve(key);
    try {
      if (!Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS) || !Files.deleteIfExists(path)) {
        return false;
      }
      fsyncDirectory(path.getParent());
      // Remove directories left empty; a concurrent put into one of them retries (see createTemp).
      for (Path d = path.getParent(); !d.equals(root); d = d.getParent()) {
        try {
          Files.delete(d);
        } catch (IOException notEmptyOrGone) {
          break;
        }
      }
      return true;
    } catch (IOException e) {
      throw failure("deleting blob '" + key + "' at", path, e);
    }
  }

  @Override
  public List<String> list(String prefix) {
    Objects.requireNonNull(prefix, "prefix");
    int slash = prefix.lastIndexOf('/');
    Path start = root;
    if (slash >= 0) {
      try {
        start = resolve(prefix.substring(0, slash));
      } catch (IllegalArgumentException e) {
        return List.of(); // no valid key starts with an invalid directory part
      }
    }
    List<String> keys = new ArrayList<>();
    if (!Files.isDirectory(start, LinkOption.NOFOLLOW_LINKS)) return keys;
    try {
      Files.walkFileTree(start, new SimpleFileVisitor<>() {
        @Override
        public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
          String key = root.relativize(file).toString().replace(file.getFileSystem().getSeparator(), "/");
          if (attrs.isRegularFile() && key.startsWith(prefix) && isValidKey(key)) keys.add(key);
          return FileVisitResult.CONTINUE;
        }

        @Override
        public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
          if (e instanceof NoSuchFileException) return FileVisitResult.CONTINUE; // deleted meanwhile
          throw e;
        }
      });
    } catch (IOException e) {
      throw failure("listing blobs with prefix '" + prefix + "' under", start, e);
    }
    keys.sort(null);
    return keys;
  }

  @Override
  public String describe() {
    return "fs:" + root;
  }

  /** Maps a validated key to its path, refusing anything that would land outside the root. */
  private Path resolve(String key) {
    BlobStore.validateKey(key);
    Path path = root.resolve(key).normalize();
    if (!path.startsWith(root) || path.equals(root)) {
      throw new IllegalArgumentException("blob key '" + key + "' resolves outside " + root);
    }
    return path;
  }

  /**
   * Creates the temp file and its directories. A concurrent delete may prune a directory while this
   * runs (NoSuchFile, or FileAlreadyExists when it vanishes between mkdir and the check), so retry;
   * a blob where a directory must be fails every attempt.
   */
  private static FileChannel createTemp(Path dir, Path tmp) throws IOException {
    for (int attempt = 1; ; attempt++) {
      try {
        Files.createDirectories(dir);
        return FileChannel.open(tmp, java.util.Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
            io.bulwark.core.io.Fs.attribute(io.bulwark.core.io.Fs.PRIVATE_FILE));
      } catch (NoSuchFileException | FileAlreadyExistsException e) {
        if (attempt == 10) throw e;
      }
    }
  }

  private static int readSource(InputStream data, byte[] buf, String key) {
    try {
      return data.read(buf);
    } catch (IOException e) {
      throw new BlobException(
          "reading the data for blob '" + key + "' failed, so nothing was stored: " + e, e);
    }
  }

  /** Makes a directory's entries durable; some platforms cannot open or fsync a directory. */
  private static void fsyncDirectory(Path dir) throws IOException {
    FileChannel ch;
    try {
      ch = FileChannel.open(dir, StandardOpenOption.READ);
    } catch (NoSuchFileException e) {
      return; // a concurrent delete removed it once empty; nothing in it needs to be durable
    } catch (AccessDeniedException e) {
      log.debug("cannot open directory {} to fsync it (Windows); skipping", dir, e);
      return;
    }
    try (ch) {
      ch.force(true);
    } catch (IOException e) {
      if (!String.valueOf(e.getMessage()).contains("Invalid argument")) throw e;
      log.debug("filesystem does not support fsync of directory {}; skipping", dir, e);
    }
  }

  private static void deleteQuietly(Path tmp) {
    try {
      Files.deleteIfExists(tmp);
    } catch (IOException e) {
      log.warn("could not remove temp file {}: {}", tmp, e.toString());
    }
  }

  private static boolean isValidKey(String key) {
    try {
      BlobStore.validateKey(key);
      return true;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime provides SHA-256", e);
    }
  }

  private BlobException failure(String action, Path path, IOException e) {
    String remedy;
    if (e instanceof AccessDeniedException) {
      remedy = "check that the Bulwark process may read and write " + root;
    } else if (e instanceof FileAlreadyExistsException || e instanceof NotDirectoryException) {
      remedy = "a blob is stored where this key needs a directory; a filesystem store cannot hold both"
          + " a key 'k' and keys under 'k/'";
    } else if (String.valueOf(e.getMessage()).contains("name too long")) {
      remedy = "a key segment is longer than this filesystem allows (usually 255 bytes); use shorter keys";
    } else if (String.valueOf(e.getMessage()).matches("(?is).*(no space|quota).*")) {
      remedy = "the disk holding " + root + " is full; free space or move the blob directory";
    } else {
      remedy = "check that " + root + " is mounted, writable and has free space";
    }
    return new BlobException(action + " " + path + " failed: " + e + "; " + remedy, e);
  }
}
