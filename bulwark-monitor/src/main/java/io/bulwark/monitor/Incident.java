package io.bulwark.monitor;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One root cause that went wrong, from opening to resolution: what failed (its checks), what Bulwark
 * did about it (from the event journal), the diagnosis, and whom it was told to. Persisted by {@link
 * IncidentStore} as JSON; owned by the monitor's loop thread (readers get copies through JSON).
 */
public final class Incident {
  public enum State { OPEN, ACKNOWLEDGED, RESOLVED }

  /** A number, shown as {@code #12}. */
  public long id;
  /** The root cause's group ({@code database}, {@code component:api-main}): one open incident per key. */
  public String key;
  public String title;
  public State state = State.OPEN;
  public boolean flapping;
  /** Opened by an automatic recovery in the journal (a failover, a switch) rather than by a check. */
  public boolean byEvent;
  public Instant openedAt;
  /** The last time one of its checks was failing (resolution waits for it to be long enough ago). */
  public Instant lastProblemAt;
  public Instant acknowledgedAt;
  public String acknowledgedBy;
  public Instant resolvedAt;
  /** Set when it was closed as part of another incident with the same root cause: that one's id. */
  public Long mergedInto;
  public String resolvedBy;
  /** Its checks now: name → {@code CRITICAL HARD - message}; the root cause's and the dependent ones'. */
  public Map<String, String> checks = new LinkedHashMap<>();
  /** Checks that failed only because of this root cause (suppressed as dependent). */
  public List<String> suppressed = new ArrayList<>();
  /** What happened, oldest first: {@code time  what}, from the journal and the monitor's own observations. */
  public List<String> timeline = new ArrayList<>();
  /** The diagnosis as of the last change: what failed, what Bulwark did, what is still degraded, what to do. */
  public List<String> diagnosis = new ArrayList<>();
  /** Where to read what to do. */
  public String runbook;
  /** Every notification owed or made for it. */
  public List<Delivery> deliveries = new ArrayList<>();

  /** One notification to one recipient: the incident opened (at an escalation step) or resolved. */
  public static final class Delivery {
    public enum Kind { OPENED, RESOLVED }

    public int step;
    public Kind kind;
    public String recipient;
    /** Sent (delivered to the SMTP server / answered 2xx by the webhook); false while owed. */
    public boolean sent;
    public int attempts;
    public Instant due;
    public Instant sentAt;
    public String lastError;

    public Delivery() {}

    Delivery(int step, Kind kind, String recipient, Instant due) {
      this.step = step;
      this.kind = kind;
      this.recipient = recipient;
      this.due = due;
    }
  }

  public boolean open() {
    return state != State.RESOLVED;
  }

  public String ref() {
    return "#" + id;
  }

  /** The steps notified (or owed) that the incident opened. */
  public boolean stepQueued(int step) {
    return deliveries.stream().anyMatch(d -> d.kind == Delivery.Kind.OPENED && d.step == step);
  }
}
