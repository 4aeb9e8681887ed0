package io.bulwark.cluster.events;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The event journal of one machine: a file of JSON lines ({@code DIR/events.jsonl}) that every
 * process of the deployment appends to. Each append takes an exclusive lock (on {@code
 * events.jsonl.lock}), writes
 * one whole line and forces it to disk, so lines of several processes never interleave and an
 * event that was recorded survives a power loss. Events are rare (failovers, restarts), so the
 * fsync per event costs nothing that matters.
 *
 * <p>Bounded: when the file passes {@code maxBytes} it is renamed to {@code events.1.jsonl}
 * (replacing the previous one) and a new file is started, so the journal keeps between one and two
 * files' worth of history. The cursor of {@link #read} is a byte offset into the current file; a
 * reader whose cursor is past the end (the file was rotated under it) reads on from the start of
 * the new file.
 */
public final class FileEventJournal implements EventJournal {
  private static final Logger log = LoggerFactory.getLogger(FileEventJournal.class);
  public static final long DEFAULT_MAX_BYTES = 16L << 20;
  private static final ObjectMapper JSON = new ObjectMapper().registerModule(new JavaTimeModule())
      .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS);

  /** FileLock excludes other processes only; threads of this JVM (any instance) take this first. */
  private static final ConcurrentHashMap<Path, Object> IN_PROCESS = new ConcurrentHashMap<>();

  private final Path file;
  private final long maxBytes;
  private volatile String lastFailure;

  public FileEventJournal(Path file) {
    this(file, DEFAULT_MAX_BYTES);
  }

  public FileEventJournal(Path file, long maxBytes) {
    if (maxBytes < 4096) throw new IllegalArgumentException("maxBytes must be at least 4096 bytes, got " + maxBytes);
    this.file = file.toAbsolutePath();
    this.maxBytes = maxBytes;
  }

  public Path file() {
    return file;
  }

  /** The rotated file: the history before the current one. */
  public Path previous() {
    return file.resolveSibling(file.getFileName().toString().replaceFirst("\\.jsonl$", "") + ".1.jsonl");
  }

  @Override
  public void append(Event event) {
    try {
      byte[] line = (JSON.writeValueAsString(event) + "\n").getBytes(StandardCharsets.UTF_8);
      synchronized (IN_PROCESS.computeIfAbsent(file, f -> new Object())) {
        appendLocked(line);
      }
      lastFailure = null;
    } catch (IOException | RuntimeException e) {
      String why = e.getClass().getSimpleName() + ": " + e.getMessage();
      if (!why.equals(lastFailure)) log.error("event journal {}: cannot record {} ({})", file, event, why);
      lastFailure = why;
    }
  }

  /**
   * Under a lock on a separate, never-rotated lock file (locking the journal itself would let a
   * process that waited on the old file's lock append to, and rotate, a file already rotated away).
   */
  private void appendLocked(byte[] line) throws IOException {
    try (FileChannel lock = FileChannel.open(lockFile(), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock ignored = lock.lock();
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
      if (ch.size() + line.length > maxBytes && ch.size() > 0) {
        Files.move(file, previous(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        try (FileChannel fresh = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
            StandardOpenOption.APPEND)) {
          write(fresh, line);
        }
        io.bulwark.core.io.Fs.fsync(file.getParent()); // the rename and the new file survive a power loss too
      } else {
        write(ch, line);
      }
    }
  }

  private Path lockFile() {
    return file.resolveSibling(file.getFileName() + ".lock");
  }

  private static void write(FileChannel ch, byte[] line) throws IOException {
    ByteBuffer buf = ByteBuffer.wrap(line);
    while (buf.hasRemaining()) ch.write(buf);
    ch.force(false);
  }

  @Override
  public Page read(long cursor, int limit) {
    if (limit < 1) throw new IllegalArgumentException("limit must be at least 1, got " + limit);
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      return new Page(List.of(), EventJournal.Page.START);
    } catch (IOException e) {
      throw new EventJournalException("cannot read the event journal " + file + ": " + e.getMessage(), e);
    }
    long from = cursor > bytes.length ? 0 : cursor; // rotated under the reader: read the new file from its start
    List<Event> events = new ArrayList<>();
    int pos = (int) from;
    while (events.size() < limit) {
      int end = indexOf(bytes, (byte) '\n', pos);
      if (end < 0) break; // a line being written: read it next time
      String line = new String(bytes, pos, end - pos, StandardCharsets.UTF_8);
      pos = end + 1;
      if (line.isBlank()) continue;
      try {
        events.add(JSON.readValue(line, Event.class));
      } catch (IOException e) {
        log.warn("event journal {}: skipping a line that is not an event ({})", file, e.getMessage());
      }
    }
    return new Page(events, pos);
  }

  /** All events still kept, oldest first: the rotated file, then the current one. */
  public List<Event> all() {
    List<Event> out = new ArrayList<>();
    if (Files.exists(previous())) out.addAll(new FileEventJournal(previous(), maxBytes).read(0, Integer.MAX_VALUE).events());
    out.addAll(read(0, Integer.MAX_VALUE).events());
    return out;
  }

  private static int indexOf(byte[] bytes, byte b, int from) {
    for (int i = from; i < bytes.length; i++) if (bytes[i] == b) return i;
    return -1;
  }
}
