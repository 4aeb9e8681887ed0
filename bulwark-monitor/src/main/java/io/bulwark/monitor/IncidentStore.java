package io.bulwark.monitor;

import com.fasterxml.jackson.annotation.JsonAutoDetect;
import com.fasterxml.jackson.annotation.PropertyAccessor;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.bulwark.core.io.Fs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The monitor's memory, one JSON file written atomically (temp file, fsync, rename) after every change:
 * the incidents with their deliveries and timers, the next incident number, and how far into the
 * event journal the monitor has read. A monitor restarted during an incident carries on from it: the
 * incident stays open, notifications already made are not made again, escalation timers keep their
 * times. Nothing here needs the database the monitor watches. Keeps every open incident and the
 * newest {@link #KEEP_RESOLVED} resolved ones.
 */
public final class IncidentStore {
  static final int KEEP_RESOLVED = 500;
  static final ObjectMapper JSON = new ObjectMapper().registerModule(new JavaTimeModule())
      .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .setVisibility(PropertyAccessor.FIELD, JsonAutoDetect.Visibility.PUBLIC_ONLY);

  /** What the file holds. */
  public static final class Snapshot {
    public long nextId = 1;
    public long journalCursor;
    public List<Incident> incidents = new ArrayList<>();
  }

  private final Path file;

  public IncidentStore(Path file) {
    this.file = file;
  }

  public Path file() {
    return file;
  }

  /** The saved state, or an empty one on a first start. */
  public Snapshot load() {
    if (!Files.exists(file)) return new Snapshot();
    try {
      return JSON.readValue(file.toFile(), Snapshot.class);
    } catch (IOException e) {
      throw new MonitorConfigException("cannot read the monitor's incidents from " + file + " (" + e.getMessage().lines().findFirst().orElse("")
          + "); move it aside to start with none", e);
    }
  }

  public void save(Snapshot s) throws IOException {
    List<Incident> resolved = s.incidents.stream().filter(i -> !i.open()).toList();
    if (resolved.size() > KEEP_RESOLVED) {
      List<Incident> drop = resolved.subList(0, resolved.size() - KEEP_RESOLVED);
      s.incidents.removeAll(drop);
    }
    Files.createDirectories(file.getParent());
    Fs.writeAtomically(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(s));
  }
}
