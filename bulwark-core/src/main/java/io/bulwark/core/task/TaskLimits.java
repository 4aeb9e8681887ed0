package io.bulwark.core.task;

/** Defaults and bounds of the fields a client may set on a task. */
public final class TaskLimits {
  public static final int DEFAULT_MAX_ATTEMPTS = 5;
  public static final int MAX_MAX_ATTEMPTS = 100;
  public static final int DEFAULT_TIMEOUT_SECONDS = 300;
  public static final int MAX_TIMEOUT_SECONDS = 24 * 3600;
  public static final int DEFAULT_PRIORITY = 0;
  public static final int MIN_PRIORITY = -1000;
  public static final int MAX_PRIORITY = 1000;
  public static final int MAX_TYPE_LENGTH = 100;
  /** Inputs and results up to this many bytes live in the task row; larger ones in blob storage. */
  public static final int INLINE_LIMIT_BYTES = 64 * 1024;
  public static final int MAX_BATCH_SIZE = 1000;
  /**
   * The latest {@code runAt} a client may ask for. An earlier one than now means "due now": it is
   * stored as the submission time, so a date in the past cannot jump the queue ahead of tasks that
   * were due before it was submitted, and a year PostgreSQL cannot store (0000) never reaches it.
   */
  public static final java.time.Instant LATEST_RUN_AT = java.time.Instant.parse("9999-12-31T23:59:59Z");

  private TaskLimits() {}
}
