package io.bulwark.dr;

import io.bulwark.core.blob.BlobRef;
import io.bulwark.core.blob.BlobStore;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A {@link BackupSink} into the backup repository: each file becomes one zstd object {@code
 * backups/<label>/<n>.zst} (numbered, so that any file name is safe as a key), compressed on zstd's
 * worker threads while this thread reads the file. The files are read before {@code pg_backup_stop}
 * as the low-level API requires, because each {@link #file} call returns only once its object is
 * stored. The caller writes the manifest from {@link #files()} and {@link #directories()}.
 */
final class RepositorySink implements BackupSink {
  private final BlobStore store;
  private final String prefix;
  private final int workers;
  private final List<String> directories = new ArrayList<>();
  private final List<BackupManifest.FileEntry> files = new ArrayList<>();
  private long bytes;
  private long storedBytes;

  RepositorySink(BlobStore store, String label, int workers) {
    this.store = store;
    this.prefix = BackupCatalog.objectPrefix(label);
    this.workers = workers;
  }

  @Override
  public void directory(String path) {
    directories.add(path);
  }

  @Override
  public void file(String path, Path source) throws IOException {
    try (InputStream in = Files.newInputStream(source)) { // NoSuchFileException: vanished, the backup skips it
      put(path, in);
    }
  }

  @Override
  public void bytes(String path, byte[] content) throws IOException {
    put(path, new ByteArrayInputStream(content));
  }

  private void put(String path, InputStream in) throws IOException {
    String key = prefix + String.format(Locale.ROOT, "%06d.zst", files.size());
    try (Codec.CompressingInputStream z = new Codec.CompressingInputStream(in, Codec.BACKUP_LEVEL, workers)) {
      BlobRef ref = store.put(key, z);
      files.add(new BackupManifest.FileEntry(path, z.rawLength(), z.rawSha256(), key, ref.size(), ref.sha256()));
      bytes += z.rawLength();
      storedBytes += ref.size();
    }
  }

  @Override
  public void finish() {
    // every object was stored durably by put; the manifest, written after the WAL is archived, completes the backup
  }

  List<String> directories() {
    return directories;
  }

  List<BackupManifest.FileEntry> files() {
    return files;
  }

  long bytes() {
    return bytes;
  }

  long storedBytes() {
    return storedBytes;
  }
}
