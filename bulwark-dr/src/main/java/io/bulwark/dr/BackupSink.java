package io.bulwark.dr;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Where {@link OnlineBackup} puts a cluster's files: a directory (a new standby, {@link
 * DirectorySink}) or a backup repository. Paths are relative to the data directory, '/'-separated.
 * Calls come from one thread, directories before their contents.
 */
public interface BackupSink {
  void directory(String path) throws IOException;

  /**
   * Copies a file of the running cluster. It may change, shrink or vanish while being read: the
   * WAL replayed from the backup's start repairs that (full_page_writes); a vanished file is
   * reported by throwing {@link java.nio.file.NoSuchFileException}, which the backup skips.
   */
  void file(String path, Path source) throws IOException;

  /** A file whose content the backup produces itself ({@code backup_label}, {@code tablespace_map}). */
  void bytes(String path, byte[] content) throws IOException;

  /** All files are in: make them durable. */
  void finish() throws IOException;
}
