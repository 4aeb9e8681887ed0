package io.bulwark.monitor;

import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * One check's state over time, with Nagios Core's rules:
 *
 * <ul>
 *   <li><b>SOFT/HARD</b>: a change away from OK is SOFT for {@code maxAttempts - 1} further results
 *       (it may be a blip); the {@code maxAttempts}-th non-OK result in a row makes it HARD. A
 *       return to OK from a HARD problem is a HARD recovery at once; from a SOFT one, nothing was
 *       ever HARD.
 *   <li><b>Flapping</b>: over the last 21 results, the share of state changes, weighted from 0.8
 *       (oldest) to 1.2 (newest); above {@code highFlap} percent the check starts flapping, below
 *       {@code lowFlap} it stops (Nagios's defaults: 50 and 25).
 * </ul>
 *
 * Not thread-safe: the monitor's loop owns it.
 */
public final class CheckState {
  static final int FLAP_HISTORY = 21;

  private final int maxAttempts;
  private final double lowFlap;
  private final double highFlap;
  private final Deque<Status> history = new ArrayDeque<>(FLAP_HISTORY);
  private Status status = Status.OK;
  private boolean hard = true;
  private int attempt = 1;
  private Instant lastChange;
  private Instant lastHardChange;
  private boolean flapping;
  private double flapPercent;
  private CheckResult last;

  public CheckState(int maxAttempts, double lowFlap, double highFlap) {
    if (maxAttempts < 1) throw new IllegalArgumentException("maxAttempts must be at least 1, got " + maxAttempts);
    this.maxAttempts = maxAttempts;
    this.lowFlap = lowFlap;
    this.highFlap = highFlap;
  }

  /** Takes one result. */
  public void observe(CheckResult r, Instant now) {
    last = r;
    Status s = r.status();
    if (lastChange == null) lastChange = now;
    if (s != status) lastChange = now;
    if (s.ok()) {
      if (!status.ok() && hard) lastHardChange = now; // a hard recovery
      hard = true;
      attempt = 1;
    } else if (status.ok()) {
      attempt = 1;
      hard = maxAttempts == 1;
      if (hard) lastHardChange = now;
    } else if (!hard) {
      attempt++;
      if (attempt >= maxAttempts) {
        hard = true;
        lastHardChange = now;
      }
    } else if (s != status) {
      lastHardChange = now; // a HARD WARNING that turns CRITICAL stays HARD
    }
    status = s;
    history.addLast(s);
    if (history.size() > FLAP_HISTORY) history.removeFirst();
    flapPercent = percentStateChange();
    if (!flapping && flapPercent > highFlap) flapping = true;
    else if (flapping && flapPercent < lowFlap) flapping = false;
  }

  private double percentStateChange() {
    if (history.size() < 2) return 0;
    Status[] h = history.toArray(Status[]::new);
    double weighted = 0;
    int transitions = FLAP_HISTORY - 1; // a partial history counts as steady for the rest (Nagios does the same)
    for (int i = 1; i < h.length; i++) {
      // weights rise linearly from 0.8 for the oldest transition to 1.2 for the newest
      double weight = 0.8 + 0.4 * (i - 1 + (transitions - (h.length - 1))) / (transitions - 1);
      if (h[i] != h[i - 1]) weighted += weight;
    }
    return 100.0 * weighted / transitions;
  }

  public Status status() {
    return status;
  }

  /** True when the state is HARD (OK is always hard). */
  public boolean hard() {
    return hard;
  }

  public int attempt() {
    return attempt;
  }

  public int maxAttempts() {
    return maxAttempts;
  }

  /** A HARD problem: WARNING, CRITICAL or UNKNOWN confirmed by {@code maxAttempts} results in a row. */
  public boolean hardProblem() {
    return hard && !status.ok();
  }

  public boolean flapping() {
    return flapping;
  }

  public double flapPercent() {
    return flapPercent;
  }

  public Instant lastChange() {
    return lastChange;
  }

  public Instant lastHardChange() {
    return lastHardChange;
  }

  public CheckResult last() {
    return last;
  }

  /** {@code CRITICAL HARD}, {@code WARNING SOFT 2/3}, {@code OK}: as Nagios shows it. */
  public String describe() {
    if (status.ok()) return "OK";
    return status + (hard ? " HARD" : " SOFT " + attempt + "/" + maxAttempts) + (flapping ? " (flapping)" : "");
  }
}
