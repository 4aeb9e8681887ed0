package io.bulwark.storage;

import io.bulwark.core.io.Fs;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Optional;

/**
 * Which storage region takes writes first, one choice for the whole deployment: a small file every
 * process reads ({@code DIR/run/storage-region}, lines: region, since, why), written atomically by
 * whoever switches (the region switcher, or {@code bulwark storage switch}); in a cluster each agent
 * keeps its host's copy of the choice held in etcd. Read at most every {@value #REFRESH_MS} ms.
 */
public final class RegionChoice {
  static final long REFRESH_MS = 250;

  /** The choice: {@code region} since {@code since}, because {@code why}. */
  public record Choice(String region, Instant since, String why) {}

  private final Path file;
  private final String defaultRegion;
  private volatile Choice cached;
  private volatile long readAtNanos;

  public RegionChoice(Path file, String defaultRegion) {
    this.file = file;
    this.defaultRegion = defaultRegion;
  }

  /** The region writes go to first now. */
  public String active() {
    return current().region();
  }

  public Choice current() {
    long now = System.nanoTime();
    Choice c = cached;
    if (c != null && now - readAtNanos < REFRESH_MS * 1_000_000) return c;
    c = read().orElseGet(() -> new Choice(defaultRegion, Instant.EPOCH, "the first region (nothing switched yet)"));
    cached = c;
    readAtNanos = now;
    return c;
  }

  /** Makes {@code region} the active one for every process. */
  public void switchTo(String region, String why) {
    Choice c = new Choice(region, Instant.now(), why.replace('\n', ' '));
    try {
      Files.createDirectories(file.getParent());
      Fs.writeAtomically(file, (c.region() + "\n" + c.since() + "\n" + c.why() + "\n").getBytes(StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new io.bulwark.core.BulwarkException("cannot write the storage region choice " + file + ": " + e.getMessage(), e);
    }
    cached = c;
    readAtNanos = System.nanoTime();
  }

  private Optional<Choice> read() {
    try {
      var l = Files.readAllLines(file, StandardCharsets.UTF_8);
      return l.size() >= 3 ? Optional.of(new Choice(l.get(0), Instant.parse(l.get(1)), l.get(2))) : Optional.empty();
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException | RuntimeException e) {
      return Optional.ofNullable(cached); // keep the last good choice while the file cannot be read
    }
  }

  public Path file() {
    return file;
  }
}
