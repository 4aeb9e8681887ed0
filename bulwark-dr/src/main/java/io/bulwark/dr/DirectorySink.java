package io.bulwark.dr;

import io.bulwark.core.io.Fs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

/** Copies a backup into a directory (mode 0700, files 0600), fsyncing every file and directory. */
public final class DirectorySink implements BackupSink {
  private final Path root;
  private final List<Path> directories = new ArrayList<>();
  private long bytes;
  private int files;

  public DirectorySink(Path root) throws IOException {
    this.root = root;
    Files.createDirectories(root);
    Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwx------"));
    directories.add(root);
  }

  @Override
  public void directory(String path) throws IOException {
    Path d = root.resolve(path);
    Files.createDirectories(d);
    Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwx------"));
    directories.add(d);
  }

  @Override
  public void file(String path, Path source) throws IOException {
    Path target = root.resolve(path);
    Files.copy(source, target, StandardCopyOption.REPLACE_EXISTING);
    Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rw-------"));
    Fs.fsync(target);
    bytes += Files.size(target);
    files++;
  }

  @Override
  public void bytes(String path, byte[] content) throws IOException {
    Path target = root.resolve(path);
    Files.write(target, content);
    Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rw-------"));
    Fs.fsync(target);
    bytes += content.length;
    files++;
  }

  @Override
  public void finish() throws IOException {
    for (Path d : directories) Fs.fsync(d);
  }

  public long bytesWritten() {
    return bytes;
  }

  public int filesWritten() {
    return files;
  }

}
