package io.bulwark.dr;

import io.bulwark.core.io.Fs;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Which database node is the primary, persisted (fsynced, replaced atomically) so that a restarted
 * supervisor never elects a different one than the failover controller last promoted. The
 * controller writes it before it promotes; {@code bulwark db promote-restore} writes it when it
 * puts a restored cluster in service.
 */
public record HaState(String primary, long generation) {
  private static final ObjectMapper JSON = new ObjectMapper();

  public static Optional<HaState> read(Path file) {
    if (!Files.exists(file)) return Optional.empty();
    try {
      return Optional.of(JSON.readValue(file.toFile(), HaState.class));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
    }
  }

  public void write(Path file) {
    try {
      Fs.writeAtomically(file, JSON.writeValueAsBytes(this));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
    }
  }

  public HaState promote(String node) {
    return new HaState(node, generation + 1);
  }
}
