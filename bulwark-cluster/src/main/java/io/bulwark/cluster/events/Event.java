package io.bulwark.cluster.events;

import java.time.Instant;
import java.util.Objects;

/**
 * One thing that happened to the deployment: a failover, a fencing, a component restart, a backend
 * going down, an archive failure. Written by whatever took the action or saw it, read by
 * {@code bulwark events}, the monitor's diagnosis and the drills.
 *
 * @param at when it happened (the writer's clock)
 * @param node the host (cluster node) it happened on; {@code local} on one machine
 * @param source what wrote it: a component ({@code api-main}, {@code gateway}) or a controller
 *     ({@code db-failover}, {@code supervisor})
 * @param kind a dotted, stable name to filter and group by, e.g. {@code db.failover},
 *     {@code component.restart}; see {@link Kinds}
 * @param message what happened and why, for a person
 */
public record Event(Instant at, String node, String source, String kind, String message) {
  public Event {
    Objects.requireNonNull(at, "at");
    Objects.requireNonNull(node, "node");
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(message, "message");
  }

  /** The kinds written today; a reader must accept kinds it does not know (newer writers). */
  public static final class Kinds {
    public static final String DB_PRIMARY = "db.primary";
    public static final String DB_STANDBY = "db.standby";
    public static final String DB_REPLICATION = "db.replication";
    public static final String DB_FAILOVER = "db.failover";
    public static final String DB_FENCE = "db.fence";
    public static final String DB_REBUILD = "db.rebuild";
    public static final String COMPONENT_EXIT = "component.exit";
    public static final String COMPONENT_START = "component.start";
    public static final String ARCHIVE_FAILURE = "archive.failure";
    public static final String BACKEND_STATE = "gateway.backend";
    /** The DNS name was pointed at another gateway (automatic or planned). */
    public static final String DNS_SWITCH = "dns.switch";
    /** A gateway, probed from outside through its public port, changed health. */
    public static final String DNS_GATEWAY = "dns.gateway";
    /** The DNS provider failed a request (unreachable, 5xx, 429, refused), or works again. */
    public static final String DNS_PROVIDER = "dns.provider";
    /** A DNS controller became, or stopped being, the one that acts. */
    public static final String DNS_LEADER = "dns.leader";
    /** Blob writes now go to another storage region (automatic or planned). */
    public static final String STORAGE_SWITCH = "storage.switch";

    private Kinds() {}
  }
}
