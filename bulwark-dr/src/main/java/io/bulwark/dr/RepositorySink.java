package io.bulwark.dr;

import io.bulwark.core.blob.BlobRef;
import io.bulwark.core.blob.BlobStore;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A {@link BackupSink} into the backup repository. A file of at least {@link #BUNDLE_BELOW} becomes
 * one zstd object {@code backups/<label>/<n>.zst} (numbered, so that any file name is safe as a
 * key), compressed on zstd's worker threads (from {@link #WORKERS_FROM}) while this thread reads it.
 * Smaller files, most of a cluster's thousand-odd files, are compressed one zstd frame each into
 * bundle objects {@code backups/<label>/<n>.bundle} of about {@link #BUNDLE_SIZE} (pgBackRest's
 * repo-bundle): one durable write per bundle instead of one per file, which made a small
 * cluster's backup 8 s instead of well under one. Every file is read before {@code pg_backup_stop}
 * as the low-level API requires; {@link #finish} stores the last bundle. The caller writes the
 * manifest from {@link #files()} and {@link #directories()}.
 */
final class RepositorySink implements BackupSink {
  private final BlobStore store;
  private final String prefix;
  private final int workers;
  private final List<String> directories = new ArrayList<>();
  private final List<BackupManifest.FileEntry> files = new ArrayList<>();
  private long bytes;
  private long storedBytes;
  private final ByteArrayOutputStream bundle = new ByteArrayOutputStream();
  private final List<BackupManifest.FileEntry> inBundle = new ArrayList<>();
  private int objects;

  static final long BUNDLE_BELOW = 1024 * 1024;
  static final int BUNDLE_SIZE = 8 * 1024 * 1024;
  static final long WORKERS_FROM = 4 * 1024 * 1024;

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
    long size = Files.size(source); // NoSuchFileException: vanished, the backup skips it
    if (size < BUNDLE_BELOW) {
      addToBundle(path, Files.readAllBytes(source));
      return;
    }
    try (InputStream in = Files.newInputStream(source)) {
      put(path, in, size >= WORKERS_FROM ? workers : 0);
    }
  }

  @Override
  public void bytes(String path, byte[] content) throws IOException {
    addToBundle(path, content);
  }

  private void put(String path, InputStream in, int threads) throws IOException {
    String key = prefix + String.format(Locale.ROOT, "%06d.zst", objects++);
    try (Codec.CompressingInputStream z = new Codec.CompressingInputStream(in, Codec.BACKUP_LEVEL, threads)) {
      BlobRef ref = store.put(key, z);
      files.add(new BackupManifest.FileEntry(path, z.rawLength(), z.rawSha256(), key, ref.size(), ref.sha256()));
      bytes += z.rawLength();
      storedBytes += ref.size();
    }
  }

  /** Compresses a small file as one zstd frame at the end of the current bundle. */
  private void addToBundle(String path, byte[] content) throws IOException {
    long offset = bundle.size();
    try (Codec.CompressingInputStream z = new Codec.CompressingInputStream(new ByteArrayInputStream(content),
        Codec.BACKUP_LEVEL, 0)) {
      z.transferTo(bundle);
      inBundle.add(new BackupManifest.FileEntry(path, z.rawLength(), z.rawSha256(), null, 0, null, offset,
          bundle.size() - offset));
    }
    bytes += content.length;
    if (bundle.size() >= BUNDLE_SIZE) storeBundle();
  }

  private void storeBundle() {
    if (inBundle.isEmpty()) return;
    String key = prefix + String.format(Locale.ROOT, "%06d.bundle", objects++);
    BlobRef ref = store.put(key, bundle.toByteArray());
    for (BackupManifest.FileEntry e : inBundle) {
      files.add(new BackupManifest.FileEntry(e.path(), e.size(), e.sha256(), key, ref.size(), ref.sha256(), e.offset(),
          e.length()));
    }
    storedBytes += ref.size();
    inBundle.clear();
    bundle.reset();
  }

  @Override
  public void finish() {
    // the last bundle; the manifest, written after the WAL is archived, completes the backup
    storeBundle();
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
