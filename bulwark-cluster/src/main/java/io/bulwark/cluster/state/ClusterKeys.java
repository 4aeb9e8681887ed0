package io.bulwark.cluster.state;

import java.util.Optional;

/**
 * Small pieces of shared cluster state that outlive any one lease: which database node was leader
 * last ({@code db/last-leader}), which standby is synchronous ({@code db/sync}), whether the cluster
 * was initialized and by whom ({@code db/initialize}), which base backup seeds new standbys
 * ({@code db/seed}). Keys are relative to the cluster's namespace. In etcd, read linearizably: a
 * member cut off from the quorum cannot answer.
 *
 * <p>Every method may throw {@link io.bulwark.cluster.lease.LeaseStoreUnavailableException} when the
 * store does not answer in time: the caller then knows nothing and must not act on a guess.
 */
public interface ClusterKeys {
  /** The key's value now, if it exists. */
  Optional<String> get(String key);

  /** Sets the key. */
  void put(String key, String value);

  /** Creates the key with {@code value} unless it exists; true when this call created it. Atomic. */
  boolean putIfAbsent(String key, String value);

  /** Removes the key, if it exists. */
  void delete(String key);
}
