package io.bulwark.cluster.events;

import java.time.Clock;

/**
 * Appends the events of one writer (a node and a source) to a journal, stamped with its clock:
 * what controllers and supervisors hold instead of the journal itself.
 */
public record EventRecorder(EventJournal journal, String node, String source, Clock clock) {
  /** The node name of a one-machine deployment. */
  public static final String LOCAL_NODE = "local";

  /** Records nothing. */
  public static final EventRecorder NONE = new EventRecorder(EventJournal.NONE, LOCAL_NODE, "none", Clock.systemUTC());

  public EventRecorder(EventJournal journal, String node, String source) {
    this(journal, node, source, Clock.systemUTC());
  }

  public void record(String kind, String message) {
    journal.append(new Event(clock.instant(), node, source, kind, message));
  }

  /** The same journal, node and clock, written as another source. */
  public EventRecorder as(String otherSource) {
    return new EventRecorder(journal, node, otherSource, clock);
  }
}
