package io.bulwark.monitor;

/** The root-cause groups checks and events belong to; one open incident per group. */
public final class Groups {
  /** The database: its primary, its standby, failover readiness, the nodes' processes. */
  public static final String DATABASE = "database";
  /** WAL archiving and base backups. */
  public static final String ARCHIVE = "archive";
  /** Blob storage regions and their replication. */
  public static final String STORAGE = "storage";
  /** The DNS front door. */
  public static final String DNS = "dns";
  /** The workers as a pool. */
  public static final String WORKERS = "workers";
  /** Disk space. */
  public static final String DISK = "disk";
  /** Prefix of one host's group in a cluster: {@code node:host-a} (its components depend on it). */
  public static final String NODE = "node:";
  /** Prefix of one process's group: {@code component:api-main}. */
  public static final String COMPONENT = "component:";

  private Groups() {}

  public static String component(String name) {
    return COMPONENT + name;
  }

  /**
   * The group of a supervised process by its role: a database node's process is part of the
   * database, workers are one pool, storage regions and the DNS controller their own groups, any
   * other process a group of its own ({@code component:NAME}).
   */
  public static String ofComponent(String role, String name) {
    if (role.startsWith("pg-")) return DATABASE;
    if (role.equals("worker")) return WORKERS;
    if (role.equals("storage-region")) return STORAGE;
    if (role.startsWith("dns")) return DNS;
    return component(name);
  }
}
