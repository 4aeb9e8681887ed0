package io.bulwark.cluster.events;

import java.util.List;

/**
 * The deployment's event journal: appended to by every component and controller, read in order.
 * One machine keeps it in a file in the data directory ({@link FileEventJournal}); a cluster keeps
 * it in etcd, so that what one host saw survives that host.
 *
 * <p>Appending must never fail the action it records: implementations log and drop what they
 * cannot write, and say so once.
 */
public interface EventJournal extends AutoCloseable {

  /** Records an event. Never throws for an I/O failure (see the class comment). */
  void append(Event event);

  /**
   * The events after {@code cursor}, oldest first, at most {@code limit}; start with {@link
   * Page#START}. Pass the returned page's cursor to read on from where this read stopped.
   */
  Page read(long cursor, int limit);

  @Override
  default void close() {}

  /** Events in order, and where to read on. */
  record Page(List<Event> events, long cursor) {
    public static final long START = 0;
  }

  /** Records nothing: for tools and tests that take actions without a deployment around them. */
  EventJournal NONE = new EventJournal() {
    @Override
    public void append(Event event) {}

    @Override
    public Page read(long cursor, int limit) {
      return new Page(List.of(), cursor);
    }
  };
}
