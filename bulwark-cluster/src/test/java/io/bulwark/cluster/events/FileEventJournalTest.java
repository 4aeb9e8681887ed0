package io.bulwark.cluster.events;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileEventJournalTest {
  @TempDir Path dir;

  static Event event(int i) {
    return new Event(Instant.parse("2026-12-01T10:00:00Z").plusSeconds(i), "local", "test", "test.kind", "event " + i);
  }

  @Test
  void appended_events_are_read_back_in_order_and_the_cursor_reads_on_from_where_it_stopped() {
    FileEventJournal journal = new FileEventJournal(dir.resolve("events.jsonl"));
    assertThat(journal.read(EventJournal.Page.START, 10).events()).isEmpty();
    for (int i = 0; i < 5; i++) journal.append(event(i));
    EventJournal.Page first = journal.read(EventJournal.Page.START, 3);
    assertThat(first.events()).containsExactly(event(0), event(1), event(2));
    EventJournal.Page rest = journal.read(first.cursor(), 10);
    assertThat(rest.events()).containsExactly(event(3), event(4));
    assertThat(journal.read(rest.cursor(), 10).events()).isEmpty();
    journal.append(event(5));
    assertThat(journal.read(rest.cursor(), 10).events()).containsExactly(event(5));
  }

  @Test
  void a_half_written_line_is_not_read_until_it_is_complete() throws Exception {
    Path file = dir.resolve("events.jsonl");
    FileEventJournal journal = new FileEventJournal(file);
    journal.append(event(1));
    Files.writeString(file, "{\"at\":\"2026-12-01T10:00:00Z\",\"node\"", java.nio.file.StandardOpenOption.APPEND);
    EventJournal.Page page = journal.read(EventJournal.Page.START, 10);
    assertThat(page.events()).containsExactly(event(1));
    assertThat(page.cursor()).isEqualTo(Files.readString(file).indexOf('\n') + 1);
  }

  @Test
  void the_journal_is_bounded_by_rotating_into_one_previous_file() {
    FileEventJournal journal = new FileEventJournal(dir.resolve("events.jsonl"), 4096);
    for (int i = 0; i < 200; i++) journal.append(event(i));
    assertThat(journal.file().toFile().length()).isLessThanOrEqualTo(4096);
    assertThat(journal.previous().toFile().length()).isLessThanOrEqualTo(4096);
    List<Event> kept = journal.all();
    assertThat(kept).isNotEmpty().endsWith(event(199));
    // what is kept is a contiguous, ordered tail
    int first = Integer.parseInt(kept.get(0).message().substring("event ".length()));
    assertThat(kept).containsExactlyElementsOf(IntStream.range(first, 200).mapToObj(FileEventJournalTest::event).toList());
  }

  @Test
  void a_reader_whose_file_was_rotated_reads_on_from_the_start_of_the_new_file() {
    FileEventJournal journal = new FileEventJournal(dir.resolve("events.jsonl"), 4096);
    for (int i = 0; i < 30; i++) journal.append(event(i));
    long cursor = journal.read(EventJournal.Page.START, 1000).cursor();
    for (int i = 30; i < 60; i++) journal.append(event(i)); // rotates
    List<Event> next = journal.read(cursor, 1000).events();
    assertThat(next).isNotEmpty().endsWith(event(59));
  }

  @Test
  void threads_appending_through_separate_instances_never_interleave_lines() throws Exception {
    Path file = dir.resolve("events.jsonl");
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      int base = t * 1000;
      threads.add(Thread.ofPlatform().start(() -> {
        FileEventJournal own = new FileEventJournal(file);
        for (int i = 0; i < 100; i++) own.append(event(base + i));
      }));
    }
    for (Thread t : threads) t.join();
    List<Event> all = new FileEventJournal(file).all();
    assertThat(all).hasSize(400);
    assertThat(new HashSet<>(all)).hasSize(400);
  }

  @Test
  void processes_appending_at_once_never_interleave_lines() throws Exception {
    Path file = dir.resolve("events.jsonl");
    List<Process> writers = new ArrayList<>();
    for (int p = 0; p < 3; p++) {
      writers.add(new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"), "-cp",
          System.getProperty("java.class.path"), AppendMain.class.getName(), file.toString(), Integer.toString(p * 1000), "150")
          .redirectErrorStream(true).redirectOutput(dir.resolve("writer-" + p + ".log").toFile()).start());
    }
    for (Process p : writers) {
      assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).as(Files.readString(dir.resolve("writer-" + writers.indexOf(p) + ".log"))).isZero();
    }
    List<Event> all = new FileEventJournal(file).all();
    Set<String> messages = new HashSet<>();
    for (Event e : all) messages.add(e.message());
    assertThat(all).hasSize(450);
    assertThat(messages).hasSize(450);
  }

  /** A writer process for the test above. */
  public static final class AppendMain {
    public static void main(String[] args) {
      FileEventJournal journal = new FileEventJournal(new File(args[0]).toPath());
      int base = Integer.parseInt(args[1]);
      for (int i = 0; i < Integer.parseInt(args[2]); i++) journal.append(event(base + i));
    }
  }
}
