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

  byte[] toJson() {
    try {
      return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(this);
    } catch (IOException e) {
      throw new DrException("cannot write backup manifest " + label + ": " + e, e);
    }
  }

  static BackupManifest fromJson(byte[] json, String key) {
    try {
      return JSON.readValue(json, BackupManifest.class);
    } catch (IOException e) {
      throw new DrException("backup manifest '" + key + "' is not readable: " + e.getMessage(), e);
    }
  }
}
