package io.bulwark.node;

import io.bulwark.azure.AzureBlobStoreProvider;
import io.bulwark.azure.AzuriteServer;
import io.bulwark.core.BulwarkException;
import io.bulwark.core.blob.BlobStore;
import io.bulwark.core.blob.BlobStores;
import io.bulwark.core.metrics.Metrics;
import io.bulwark.storage.RegionChoice;
import io.bulwark.storage.ReplicatedBlobStore;
import io.bulwark.storage.ReplicationQueue;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where a one-machine deployment keeps its blobs and its backup repository: the data directory
 * (`up`'s default: {@code DIR/blobs}, {@code DIR/archive}), or two storage regions, each an Azurite
 * with its own account ({@code up --storage azurite}: containers {@code blobs} and {@code archive} in
 * region a and in region b, replicated by {@link ReplicatedBlobStore}). Written by `up` to
 * {@code DIR/storage/layout} (and the accounts' connection strings to {@code DIR/storage/connections},
 * 0600) so that the `db` and `storage` commands open the same stores; every process gets the
 * connection strings in its environment, never on its command line.
 */
public final class StorageLayout {
  static final List<String> REGIONS = List.of("a", "b");

  /** A region: its name, account, Azurite port and key. */
  public record Region(String name, String account, int port, String key) {
    String connectionString() {
      return AzuriteServer.connectionString(account, key, port);
    }

    String uri(String container) {
      return "azure://" + account + "/" + container + "?create=true";
    }
  }

  private final DataDir dir;
  private final List<Region> regions;

  private StorageLayout(DataDir dir, List<Region> regions) {
    this.dir = dir;
    this.regions = regions;
  }

  /** The data directory's own file stores. */
  static StorageLayout files(DataDir dir) {
    return new StorageLayout(dir, List.of());
  }

  /** Two Azurite regions on the given ports; their account keys are made once and kept in DIR/storage. */
  static StorageLayout azurite(DataDir dir, int portA, int portB) {
    try {
      io.bulwark.core.io.Fs.createPrivateDir(dir.storageState());
    } catch (IOException e) {
      throw new BulwarkException("cannot create " + dir.storageState() + ": " + e.getMessage(), e);
    }
    List<Region> regions = new ArrayList<>();
    int[] ports = {portA, portB};
    for (int i = 0; i < 2; i++) {
      String name = REGIONS.get(i);
      Path keyFile = dir.storageState().resolve("azurite-" + name + ".key");
      if (!Files.exists(keyFile)) DataDir.writeSecret(keyFile, AzuriteServer.newKey());
      regions.add(new Region(name, "bulwark" + name, ports[i], DataDir.readSecret(keyFile)));
    }
    StorageLayout layout = new StorageLayout(dir, List.copyOf(regions));
    layout.write();
    return layout;
  }

  /** What `up` wrote for this data directory (its file stores when it wrote nothing). */
  static StorageLayout read(DataDir dir) {
    Path f = dir.storageState().resolve("layout");
    if (!Files.exists(f)) return files(dir);
    try {
      List<Region> regions = new ArrayList<>();
      for (String line : Files.readAllLines(f)) {
        String[] p = line.trim().split("\\s+");
        if (p.length != 3) continue;
        regions.add(new Region(p[0], p[1], Integer.parseInt(p[2]), DataDir.readSecret(dir.storageState().resolve("azurite-" + p[0] + ".key"))));
      }
      return new StorageLayout(dir, List.copyOf(regions));
    } catch (IOException | RuntimeException e) {
      throw new BulwarkException("cannot read the storage layout " + f + ": " + e.getMessage(), e);
    }
  }

  private void write() {
    StringBuilder text = new StringBuilder();
    for (Region r : regions) text.append(r.name()).append(' ').append(r.account()).append(' ').append(r.port()).append('\n');
    try {
      Files.createDirectories(dir.storageState());
      io.bulwark.core.io.Fs.writeAtomically(dir.storageState().resolve("layout"), text.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new BulwarkException("cannot write " + dir.storageState().resolve("layout") + ": " + e.getMessage(), e);
    }
  }

  boolean replicated() {
    return !regions.isEmpty();
  }

  public List<Region> regions() {
    return regions;
  }

  /** The connection strings, by environment variable: for child processes and for this one. */
  Map<String, String> environment() {
    Map<String, String> env = new LinkedHashMap<>();
    for (Region r : regions) env.put(AzureBlobStoreProvider.variable(r.account()), r.connectionString());
    return env;
  }

  /** The storage flags of an API server or worker. */
  List<String> childFlags() {
    if (!replicated()) return List.of("--blob-dir", dir.blobs().toString());
    List<String> blobs = new ArrayList<>();
    for (Region r : regions) blobs.add(r.name() + "=" + r.uri("blobs"));
    return StorageLayout.flags(blobs, dir.storageState());
  }

  /** Task blobs, as this process (the supervisor, a command) sees them. */
  public BlobStore openBlobs(String process, Metrics metrics) {
    return replicated() ? open("blobs", process, metrics) : BlobStores.open(dir.blobs().toUri().toString());
  }

  /** The backup repository (WAL archive, base backups): in both regions when there are two. */
  BlobStore openArchive(String process, Metrics metrics) {
    return replicated() ? open("archive", process, metrics) : BlobStores.open(dir.archive().toUri().toString());
  }

  /** One region's store of {@code container}, alone: what is left when the other region is gone. */
  public BlobStore openRegion(String region, String container) {
    Region r = regions.stream().filter(x -> x.name().equals(region)).findFirst()
        .orElseThrow(() -> new BulwarkException("no storage region '" + region + "'; the regions are " + REGIONS));
    return BlobStores.open(r.uri(container), env());
  }

  private BlobStore open(String container, String process, Metrics metrics) {
    Region a = regions.get(0);
    Region b = regions.get(1);
    io.bulwark.storage.DeferredBlobStore sa = new io.bulwark.storage.DeferredBlobStore(a.uri(container), () -> BlobStores.open(a.uri(container), env()));
    io.bulwark.storage.DeferredBlobStore sb = new io.bulwark.storage.DeferredBlobStore(b.uri(container), () -> BlobStores.open(b.uri(container), env()));
    if (!sa.connected() && !sb.connected()) {
      throw new BulwarkException("neither storage region answers: " + sa.lastFailure().getMessage() + "; " + sb.lastFailure().getMessage());
    }
    return new ReplicatedBlobStore(new ReplicatedBlobStore.Region(a.name(), sa), new ReplicatedBlobStore.Region(b.name(), sb), choice(),
        new ReplicationQueue(dir.storageState().resolve("replication").resolve(container + "-" + process)),
        ReplicatedBlobStore.DEFAULT_SYNCHRONOUS, metrics);
  }

  public RegionChoice choice() {
    return new RegionChoice(dir.storageState().resolve("storage-region"), REGIONS.get(0));
  }

  private Map<String, String> env() {
    Map<String, String> env = new HashMap<>(io.bulwark.core.ProcessSecrets.environment());
    env.putAll(environment());
    return env;
  }

  /** The flags that make a child process use the same storage. */
  public static List<String> flags(List<String> blobs, Path stateDir) {
    List<String> out = new ArrayList<>();
    for (String b : blobs) out.addAll(List.of("--blobs", b));
    if (stateDir != null) out.addAll(List.of("--storage-state", stateDir.toString()));
    return out;
  }

  /** The storage regions' status, as the storage switcher of `up` writes it into DIR/run. */
  public static final String STATUS_FILE = "storage-status.json";
}
