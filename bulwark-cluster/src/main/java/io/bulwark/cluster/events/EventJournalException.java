package io.bulwark.cluster.events;

import io.bulwark.core.BulwarkException;

/** The journal cannot be read (appends never throw: see {@link EventJournal}). */
public final class EventJournalException extends BulwarkException {
  public EventJournalException(String message, Throwable cause) {
    super(message, cause);
  }
}
