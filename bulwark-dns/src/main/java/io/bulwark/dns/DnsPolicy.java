package io.bulwark.dns;

import java.util.List;
import java.util.Optional;

/**
 * Where the name should point, decided from the gateways' health and the record's value: the rules of
 * the DNS controller as a pure function, so each is tested without a server, a resolver or a clock.
 *
 * <ul>
 *   <li>The record points at a healthy gateway: stay (no flapping between two healthy gateways), unless
 *       failback is on, the record is not on the preferred (first) gateway, and that one has passed
 *       {@code failbackAfter} checks in a row (hysteresis).
 *   <li>The record's gateway has failed {@code fall} checks in a row: point at the first healthy gateway.
 *   <li>No other gateway is healthy: stay. The record never points at a gateway known to be unhealthy,
 *       and is never removed: a name that resolves to a sick gateway still serves whoever it can;
 *       a name that resolves to nothing serves nobody.
 *   <li>The record is missing or points at no gateway of ours: point at the first healthy gateway.
 * </ul>
 *
 * A gateway's health follows HAProxy's rise/fall: it goes down after {@code fall} failed checks in a
 * row and up after {@code rise} passed ones. Before its first check it is unknown; the first passed
 * check makes it healthy (a controller that starts must not wait {@code rise} seconds to know the
 * gateways are up), but only {@code fall} failed ones in a row make it down, as for a healthy one
 * (HAProxy's {@code init-state fully-up}): a gateway still starting when its controller does, as at a
 * cluster's start, must not move the name.
 */
public final class DnsPolicy {

  /**
   * @param rise passed checks in a row that make a down gateway healthy
   * @param fall failed checks in a row that make a healthy gateway down
   * @param failback whether to return to the preferred gateway once it is healthy again
   * @param failbackAfter passed checks in a row the preferred gateway needs before a failback
   */
  public record Config(int rise, int fall, boolean failback, int failbackAfter) {
    /** rise 2, fall 3, no failback (a switch back is a second disruption: do it when you choose, with `dns switch`). */
    public static final Config DEFAULTS = new Config(2, 3, false, 30);

    public Config {
      if (rise < 1 || fall < 1 || failbackAfter < 1) {
        throw new DnsConfigException("rise, fall and failback-after must be at least 1, got " + rise + ", " + fall + ", " + failbackAfter);
      }
    }
  }

  /** One gateway's health as the checks have seen it; {@code healthy} is empty before the first check. */
  public record GatewayHealth(Gateway gateway, Optional<Boolean> healthy, int passedInARow, int failedInARow, String lastProblem) {
    public static GatewayHealth unknown(Gateway g) {
      return new GatewayHealth(g, Optional.empty(), 0, 0, "not checked yet");
    }

    /** The health after one more check. */
    public GatewayHealth after(boolean passed, String problem, Config config) {
      int passedRow = passed ? passedInARow + 1 : 0;
      int failedRow = passed ? 0 : failedInARow + 1;
      Optional<Boolean> now;
      if (healthy.isEmpty()) {
        now = passed ? Optional.of(true) : failedRow < config.fall() ? Optional.empty() : Optional.of(false);
      } else if (healthy.get()) {
        now = Optional.of(failedRow < config.fall());
      } else {
        now = Optional.of(passedRow >= config.rise());
      }
      return new GatewayHealth(gateway, now, passedRow, failedRow, passed ? null : problem);
    }

    public boolean isHealthy() {
      return healthy.orElse(false);
    }

    public boolean isDown() {
      return healthy.isPresent() && !healthy.get();
    }
  }

  /** What to do now. */
  public sealed interface Decision {
    String why();
  }

  /** Leave the record as it is. */
  public record Stay(String why) implements Decision {}

  /** Point the record at {@code to}. */
  public record SwitchTo(Gateway to, String why) implements Decision {}

  private DnsPolicy() {}

  /**
   * @param gateways in order of preference (the first is where the name points when all are well)
   * @param current the record's value now (empty when it has none)
   */
  public static Decision decide(Config config, List<GatewayHealth> gateways, Optional<String> current) {
    Optional<GatewayHealth> on = current.flatMap(v -> gateways.stream().filter(g -> sameTarget(g.gateway().target(), v)).findFirst());
    Optional<GatewayHealth> firstHealthy = gateways.stream().filter(GatewayHealth::isHealthy).findFirst();
    if (on.isEmpty()) {
      String was = current.map(v -> "points at " + v + ", which is no gateway of this controller").orElse("does not exist");
      return firstHealthy.<Decision>map(g -> new SwitchTo(g.gateway(), "the record " + was + "; " + g.gateway().name() + " is healthy"))
          .orElseGet(() -> new Stay("the record " + was + ", and no gateway is healthy to point it at"));
    }
    GatewayHealth at = on.get();
    if (at.isHealthy()) {
      GatewayHealth preferred = gateways.get(0);
      if (config.failback() && preferred != at && preferred.isHealthy() && preferred.passedInARow() >= config.failbackAfter()) {
        return new SwitchTo(preferred.gateway(), "failback: " + preferred.gateway().name() + ", the preferred gateway, passed "
            + preferred.passedInARow() + " checks in a row");
      }
      return new Stay(at.gateway().name() + " is healthy");
    }
    if (!at.isDown()) return new Stay(at.gateway().name() + " is " + notYetKnown(at));
    Optional<GatewayHealth> other = gateways.stream().filter(g -> g != at && g.isHealthy()).findFirst();
    String failure = at.gateway().name() + " failed " + at.failedInARow() + " checks in a row (" + at.lastProblem() + ")";
    return other.<Decision>map(g -> new SwitchTo(g.gateway(), failure + "; " + g.gateway().name() + " is healthy"))
        .orElseGet(() -> new Stay(failure + ", but no other gateway is healthy: the record stays"));
  }

  /** Why a gateway whose health is not known yet is neither healthy nor down. */
  private static String notYetKnown(GatewayHealth g) {
    return g.failedInARow() == 0 ? "not checked yet" : "not known to be healthy yet (" + g.failedInARow() + " failed check"
        + (g.failedInARow() == 1 ? "" : "s") + " since it was first checked: " + g.lastProblem() + ")";
  }

  /**
   * Whether a record's value and a gateway's target are the same: addresses compared as addresses
   * ({@code 2001:db8::1} is {@code 2001:db8:0:0:0:0:0:1}), host names without case.
   */
  public static boolean sameTarget(String a, String b) {
    if (a.equalsIgnoreCase(b)) return true;
    if (!looksLikeAddress(a) || !looksLikeAddress(b)) return false;
    try {
      return java.net.InetAddress.getByName(a).equals(java.net.InetAddress.getByName(b)); // literals: no lookup
    } catch (java.net.UnknownHostException e) {
      return false;
    }
  }

  private static boolean looksLikeAddress(String s) {
    return s.contains(":") || s.matches("[0-9.]+");
  }

  /**
   * Whether a planned switch to {@code target} may go ahead: refused when the target is not known to
   * be healthy, unless forced. Empty when allowed, else why not.
   */
  public static Optional<String> refusePlanned(GatewayHealth target, boolean force) {
    if (force || target.isHealthy()) return Optional.empty();
    return Optional.of(target.gateway().name() + " is " + (target.isDown() ? "unhealthy (" + target.lastProblem() + ")" : notYetKnown(target))
        + "; switching the name to it would send clients to a gateway that cannot serve them (use --force to switch anyway)");
  }
}
