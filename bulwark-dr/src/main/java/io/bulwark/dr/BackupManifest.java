package io.bulwark.dr;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.deser.std.FromStringDeserializer;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.ser.std.ToStringSerializer;
import java.io.IOException;
import java.time.Instant;
import java.util.List;

/**
 * What a complete base backup in the repository is: its WAL range and every file with the size and
 * SHA-256 of its content and of its stored (compressed) object. Written last, under {@code
 * manifests/<label>-<size>-<sha256>.json}: a backup without a manifest is incomplete and ignored.
 */
public record BackupManifest(int version, String label, long timeline, String startLsn, String stopLsn,
    String startSegment, String stopSegment, Instant startedAt, Instant stoppedAt, long bytes, long storedBytes,
    List<String> directories, List<FileEntry> files) {
  static final int VERSION = 1;
  static final ObjectMapper JSON = new ObjectMapper().registerModule(new SimpleModule("instants")
      .addSerializer(Instant.class, new ToStringSerializer(Instant.class))
      .addDeserializer(Instant.class, new FromStringDeserializer<>(Instant.class) {
        @Override
        protected Instant _deserialize(String value, DeserializationContext ctxt) {
          return Instant.parse(value);
        }
      }));

  /**
   * One file of the backup: its path in the data directory and the object that holds it ({@code
   * storedSize}/{@code storedSha256} are the whole object's). A small file shares a bundle object
   * with others (pgBackRest's repo-bundle): then {@code offset}/{@code length} locate its zstd frame
   * in the bundle; for a file stored alone they are null.
   */
  public record FileEntry(String path, long size, String sha256, String key, long storedSize, String storedSha256,
      Long offset, Long length) {
    public FileEntry(String path, long size, String sha256, String key, long storedSize, String storedSha256) {
      this(path, size, sha256, key, storedSize, storedSha256, null, null);
    }

    boolean bundled() {
      return offset != null;
    }
  }

  /** A relative path that stays inside the directory it is resolved against. */
  static void requireInside(String path, String manifestKey) {
    java.nio.file.Path p = java.nio.file.Path.of(path);
    boolean inside = !path.isEmpty() && !p.isAbsolute() && !path.contains("\\")
        && p.normalize().equals(p) && !p.normalize().startsWith("..");
    if (!inside) {
      throw new DrException("backup manifest '" + manifestKey + "' names the path '" + path + "', which leaves the restore"
          + " target; refusing to restore from it (the repository may have been tampered with)");
    }
  }

  byte[] toJson() {
    try {
      return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(this);
    } catch (IOException e) {
      throw new DrException("cannot write backup manifest " + label + ": " + e, e);
    }
  }

  static BackupManifest fromJson(byte[] json, String key) {
    BackupManifest m;
    try {
      m = JSON.readValue(json, BackupManifest.class);
    } catch (IOException e) {
      throw new DrException("backup manifest '" + key + "' is not readable: " + e.getMessage(), e);
    }
    // a restore writes every path under its target: a manifest is data from the repository, and a
    // path that leaves the target (../, absolute) would let whoever can write the repository write
    // anywhere the restoring user can
    for (String d : m.directories()) requireInside(d, key);
    for (FileEntry f : m.files()) requireInside(f.path(), key);
    return m;
  }
}
