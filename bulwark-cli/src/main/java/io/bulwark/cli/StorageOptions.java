package io.bulwark.cli;

import io.bulwark.core.BulwarkException;
import io.bulwark.core.blob.BlobStore;
import io.bulwark.core.blob.BlobStores;
import io.bulwark.core.metrics.Metrics;
import io.bulwark.storage.RegionChoice;
import io.bulwark.storage.ReplicatedBlobStore;
import io.bulwark.storage.ReplicationQueue;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * Where a process keeps its blobs: one store ({@code --blobs URI}, or the older {@code --blob-dir}),
 * or two regions ({@code --blobs a=URI --blobs b=URI}) replicated by {@link ReplicatedBlobStore}, with
 * the deployment's region choice and this process's replication queue under {@code --storage-state}.
 * Every store is opened through {@link BlobStores}, so {@code file:} and {@code azure:} work alike;
 * Azure's connection strings come from the environment, never from these flags.
 */
final class StorageOptions {
  @Option(names = "--blob-dir", paramLabel = "DIR", description = "Blob storage directory (the same as --blobs file:DIR)")
  Path blobDir;

  @Option(names = "--blobs", paramLabel = "[REGION=]URI",
      description = {"Where blobs live: file:/path or azure://ACCOUNT/CONTAINER (connection string from",
          "BULWARK_AZURE_CONNECTION_STRING_<ACCOUNT>). Twice, as a=URI and b=URI, for two replicated regions."})
  List<String> blobs = new ArrayList<>();

  @Option(names = "--storage-state", paramLabel = "DIR",
      description = "With two regions: where the deployment's region choice is and this process's replication queue")
  Path stateDir;

  /** The URIs as given (region name, URI); a lone URI is region "main". */
  List<String[]> regions() {
    List<String[]> out = new ArrayList<>();
    if (blobDir != null) out.add(new String[] {"main", blobDir.toAbsolutePath().toUri().toString()});
    for (String b : blobs) {
      int eq = b.indexOf('=');
      boolean named = eq > 0 && !b.substring(0, eq).contains(":");
      out.add(named ? new String[] {b.substring(0, eq), b.substring(eq + 1)} : new String[] {"main", b});
    }
    return out;
  }

  BlobStore open(String process, Metrics metrics) {
    List<String[]> r = regions();
    if (r.isEmpty()) throw new BulwarkException("say where blobs live: --blobs file:/path (or --blob-dir DIR)");
    if (r.size() == 1) return BlobStores.open(r.get(0)[1]);
    if (r.size() > 2) throw new BulwarkException("--blobs names at most two regions (a=URI b=URI), got " + r.size());
    if (r.get(0)[0].equals(r.get(1)[0]) || r.get(0)[0].equals("main")) {
      throw new BulwarkException("two --blobs need region names: --blobs a=URI --blobs b=URI");
    }
    if (stateDir == null) throw new BulwarkException("two storage regions need --storage-state DIR (the region choice and the replication queue)");
    io.bulwark.storage.DeferredBlobStore first = new io.bulwark.storage.DeferredBlobStore(r.get(0)[1], () -> BlobStores.open(r.get(0)[1]));
    io.bulwark.storage.DeferredBlobStore second = new io.bulwark.storage.DeferredBlobStore(r.get(1)[1], () -> BlobStores.open(r.get(1)[1]));
    if (!first.connected() && !second.connected()) {
      throw new BulwarkException("neither storage region answers: " + first.lastFailure().getMessage() + "; " + second.lastFailure().getMessage());
    }
    return new ReplicatedBlobStore(new ReplicatedBlobStore.Region(r.get(0)[0], first), new ReplicatedBlobStore.Region(r.get(1)[0], second),
        new RegionChoice(stateDir.resolve("storage-region"), r.get(0)[0]), new ReplicationQueue(stateDir.resolve("replication").resolve("blobs-" + process)),
        ReplicatedBlobStore.DEFAULT_SYNCHRONOUS, metrics);
  }

}
