package io.bulwark.node;

import io.bulwark.core.BulwarkException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * The layout of a local deployment's data directory:
 *
 * <pre>
 *   pg-a/, pg-b/      the two PostgreSQL nodes (durable: fsync, full_page_writes, synchronous_commit on);
 *                     one primary, one hot standby (ha-state.json says which is primary)
 *   ha-state.json     the primary's name, written by the failover controller before it promotes
 *   pg-passfile       libpq password file the standby uses to stream from the primary (0600)
 *   pg-replication-password  the password of the role the standby streams as (0600)
 *   wal-spool/        WAL segments PostgreSQL has archived, until they are uploaded to archive/
 *   archive/          the backup repository (a BlobStore): compressed, checksummed WAL and base backups
 *   pg-password       database password (0600)
 *   blobs/            blob storage (large inputs and results)
 *   handlers/         extra handler jars
 *   logs/             one log per component
 *   run/              supervisor pid, lock and component table, while `up` runs
 *   admin.key         the first admin API key (0600)
 *   events.jsonl      the event journal: failovers, fencings, restarts (`bulwark events`)
 *   tls/              with `up --tls`: the gateway's self-signed certificate and key (0600)
 * </pre>
 */
public record DataDir(Path root) {
  public static final String DEFAULT = "bulwark-data";

  public DataDir {
    root = root.toAbsolutePath().normalize();
  }

  /** The single-node cluster of earlier versions; renamed to pg-a on the first start with a standby. */
  public Path pg() { return root.resolve("pg"); }
  /** A database node's data directory: pg-a or pg-b. */
  public Path pgNode(String node) { return root.resolve(node); }
  public Path haState() { return root.resolve("ha-state.json"); }
  public Path pgPassfile() { return root.resolve("pg-passfile"); }
  public Path walSpool() { return root.resolve("wal-spool"); }
  public Path archive() { return root.resolve("archive"); }
  public Path pgPasswordFile() { return root.resolve("pg-password"); }
  public Path blobs() { return root.resolve("blobs"); }
  /** The storage regions' shared state: the region choice, each process's replication queue. Kept across restarts. */
  public Path storageState() { return root.resolve("storage"); }
  public Path handlers() { return root.resolve("handlers"); }
  public Path logs() { return root.resolve("logs"); }
  public Path run() { return root.resolve("run"); }
  public Path lockFile() { return run().resolve("up.lock"); }
  public Path pidFile() { return run().resolve("supervisor.pid"); }
  public Path componentsFile() { return run().resolve("components.json"); }
  public Path adminKeyFile() { return root.resolve("admin.key"); }
  public Path events() { return root.resolve("events.jsonl"); }
  /** The built-in monitor's incidents and escalation timers (its own file: it must not depend on the database). */
  public Path incidents() { return root.resolve("monitor").resolve("incidents.json"); }

  /** The gateway's self-signed certificate of {@code up --tls}. */
  public Path tls() { return root.resolve("tls"); }

  /**
   * The self-signed certificate and key of {@code up --tls}, made on first use (ECDSA P-256, for
   * localhost, 127.0.0.1 and 127.0.0.2, valid 825 days) and kept: clients told to trust it go on
   * trusting it across restarts. Delete {@link #tls()} for a new one.
   */
  public io.bulwark.gateway.GatewayConfig.Tls selfSignedTls() {
    Path cert = tls().resolve("gateway.crt");
    Path key = tls().resolve("gateway.key");
    if (!Files.exists(cert) || !Files.exists(key)) {
      try {
        io.bulwark.core.io.Fs.createPrivateDir(tls());
      } catch (IOException e) {
        throw new BulwarkException("cannot create " + tls() + ": " + e.getMessage(), e);
      }
      io.bulwark.core.tls.Certificates.writeSelfSigned(cert, key, "localhost", java.util.List.of("localhost"),
          java.util.List.of("127.0.0.1", "127.0.0.2"), 825);
    }
    return new io.bulwark.gateway.GatewayConfig.Tls(cert, key);
  }

  /** Creates the layout, private to the Bulwark user: tenants' data, secrets and logs are in here (0700). */
  public void create() {
    try {
      io.bulwark.core.io.Fs.createPrivateDir(root);
      for (Path p : new Path[] {blobs(), handlers(), logs(), run(), walSpool(), archive()}) io.bulwark.core.io.Fs.createPrivateDir(p);
    } catch (IOException e) {
      throw new BulwarkException("cannot create data directory " + root + ": " + e.getMessage()
          + "; check permissions and free space, or choose another with --data-dir", e);
    }
  }

  /** The replication role's password, generated on first use (the standby reads it from {@link #pgPassfile}). */
  public String pgReplicationPassword() {
    return generatedSecret(root.resolve("pg-replication-password"));
  }

  /** The database password, generated on first use. */
  public String pgPassword() {
    return generatedSecret(pgPasswordFile());
  }

  /** The password kept in {@code f} (0600), a new random one written there on first use. */
  private static String generatedSecret(Path f) {
    if (!Files.exists(f)) writeSecret(f, newPassword());
    return readSecret(f);
  }

  /** A new random password: 24 bytes from {@link SecureRandom}, in hex. */
  public static String newPassword() {
    byte[] b = new byte[24];
    new SecureRandom().nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  public static void writeSecret(Path f, String secret) {
    try {
      Path tmp = f.resolveSibling(f.getFileName() + ".tmp");
      Files.deleteIfExists(tmp);
      Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      Files.writeString(tmp, secret + "\n", StandardCharsets.UTF_8, StandardOpenOption.WRITE);
      Files.move(tmp, f, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new BulwarkException("cannot write " + f + ": " + e.getMessage(), e);
    }
  }

  public static String readSecret(Path f) {
    try {
      return Files.readString(f, StandardCharsets.UTF_8).trim();
    } catch (IOException e) {
      throw new BulwarkException("cannot read " + f + ": " + e.getMessage(), e);
    }
  }
}
