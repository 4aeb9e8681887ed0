package io.bulwark.dns;

import java.time.Instant;
import java.util.List;

/**
 * What a DNS controller knows, as {@code bulwark dns status} shows it and its admin API serves it.
 *
 * @param current the record's value as last read (null when it has none or was not read yet)
 * @param currentGateway the gateway that value points at (null when none of ours)
 * @param leader whether this controller holds the lease and acts
 * @param providerProblem the provider's last failure while it lasts, else null
 * @param pinnedTo the gateway a forced switch pinned the name to until it passes its checks, else null
 */
public record DnsStatus(String name, String type, long ttlSeconds, String provider, String current, String currentGateway, boolean leader,
    String holder, List<GatewayView> gateways, Change lastChange, String providerProblem, String pinnedTo, Instant at) {

  /** One gateway: its health through its public port ({@code healthy}, {@code down}, {@code unknown}). */
  public record GatewayView(String name, String target, String check, String health, int passedInARow, int failedInARow,
      String lastProblem) {}

  /** The last switch this controller made. */
  public record Change(Instant at, String from, String fromGateway, String to, String toGateway, String why, boolean planned) {}
}
