package io.bulwark.core.task;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * The states of a task and, in {@link #canMoveTo}, the one table of legal moves. Every database write
 * that moves a task is guarded by the state it expects to find (and, for a running task, its lease
 * token and attempt), so a late or duplicate writer changes nothing.
 *
 * <pre>
 *   queued ──claim──► running ──ok──────────► succeeded
 *     │                 │ ├──fail, attempts left / lease lost──► queued
 *     │                 │ └──fail, no attempts left────────────► dead ──redrive──► queued
 *     └──cancel──► cancelled ◄──cancel──┘                 cancelled ──redrive──► queued
 * </pre>
 */
public enum TaskState {
  QUEUED,
  RUNNING,
  SUCCEEDED,
  DEAD,
  CANCELLED;

  private static final Set<TaskState> TERMINAL = EnumSet.of(SUCCEEDED, DEAD, CANCELLED);

  /** The name used on the wire and in the database: lower case. */
  public String wireName() {
    return name().toLowerCase(Locale.ROOT);
  }

  public boolean isTerminal() {
    return TERMINAL.contains(this);
  }

  public boolean canMoveTo(TaskState next) {
    return switch (this) {
      case QUEUED -> next == RUNNING || next == CANCELLED;
      case RUNNING -> next == SUCCEEDED || next == QUEUED || next == DEAD || next == CANCELLED;
      case DEAD, CANCELLED -> next == QUEUED;
      case SUCCEEDED -> false;
    };
  }

  /** Parses a wire name; throws with the accepted names listed. */
  public static TaskState fromWire(String name) {
    for (TaskState s : values()) {
      if (s.wireName().equals(name)) return s;
    }
    throw new IllegalArgumentException(
        "unknown task state '" + name + "'; expected one of queued, running, succeeded, dead, cancelled");
  }
}
