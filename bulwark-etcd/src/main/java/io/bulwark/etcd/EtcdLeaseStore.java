package io.bulwark.etcd;

import io.bulwark.cluster.lease.LeaseStore;
import io.bulwark.cluster.lease.LeaseStoreUnavailableException;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * Leases on etcd: a key is held by attaching it to an etcd lease and creating it only if it does not
 * exist (one transaction: {@code version(key) == 0 ? put(key, holder, lease) : get(key)}), so of
 * concurrent acquirers exactly one wins, and the key disappears when its holder stops renewing:
 * etcd's own clock, on a quorum of members, decides expiry. Renewal is a keep-alive of the lease;
 * release revokes it. Keys live under {@code prefix} (the cluster's namespace).
 *
 * <p>Every call waits at most {@code timeout}; an etcd that does not answer in time, or has no
 * quorum, is a {@link LeaseStoreUnavailableException}: the caller knows nothing, and a leader counts
 * its lease as lost when its own deadline passes ({@link io.bulwark.cluster.lease.LeaderLease}).
 */
public final class EtcdLeaseStore implements LeaseStore {
  private final Client client;
  private final boolean ownsClient;
  private final String prefix;
  private final Duration timeout;

  /** Connects to {@code endpoints} (http://host:port, any member); the store closes the client. */
  public static EtcdLeaseStore connect(List<String> endpoints, String prefix, Duration timeout) {
    return new EtcdLeaseStore(Etcd.client(endpoints, timeout), true, prefix, timeout);
  }

  /** On a client the caller owns and closes. */
  public EtcdLeaseStore(Client client, String prefix, Duration timeout) {
    this(client, false, prefix, timeout);
  }

  private EtcdLeaseStore(Client client, boolean ownsClient, String prefix, Duration timeout) {
    this.client = client;
    this.ownsClient = ownsClient;
    this.prefix = prefix.endsWith("/") ? prefix : prefix + "/";
    this.timeout = timeout;
  }

  @Override
  public Acquisition tryAcquire(String key, String holder, Duration ttl) {
    long ttlSeconds = Math.max(1, (ttl.toMillis() + 999) / 1000); // etcd's ttl is whole seconds: round up
    long leaseId = call("grant a lease for " + key, () -> client.getLeaseClient().grant(ttlSeconds)).getID();
    ByteSequence k = bytes(prefix + key);
    TxnResponse r = await("acquire " + key, client.getKVClient().txn()
        .If(new Cmp(k, Cmp.Op.EQUAL, CmpTarget.version(0)))
        .Then(Op.put(k, bytes(holder), PutOption.builder().withLeaseId(leaseId).build()))
        .Else(Op.get(k, GetOption.DEFAULT))
        .commit());
    if (r.isSucceeded()) return Acquisition.acquired(new Lease(key, holder, leaseId, ttl));
    client.getLeaseClient().revoke(leaseId); // ours is unused: do not wait for it
    List<KeyValue> kvs = r.getGetResponses().isEmpty() ? List.of() : r.getGetResponses().get(0).getKvs();
    return Acquisition.refused(kvs.isEmpty() ? "(unknown)" : string(kvs.get(0).getValue()));
  }

  @Override
  public boolean renew(Lease lease) {
    try {
      if (call("renew " + lease.key(), () -> client.getLeaseClient().keepAliveOnce(lease.id())).getTTL() <= 0) return false;
    } catch (LeaseStoreUnavailableException e) {
      if (Etcd.leaseNotFound(e.getCause())) return false;
      throw e;
    }
    // the lease lives; is the key still ours under it (not deleted and re-created by someone else)?
    GetResponse r = call("read " + lease.key(), () -> client.getKVClient().get(bytes(prefix + lease.key())));
    return !r.getKvs().isEmpty() && r.getKvs().get(0).getLease() == lease.id();
  }

  @Override
  public Optional<Lease> rehold(Lease lease, Duration ttl) {
    ByteSequence k = bytes(prefix + lease.key());
    GetResponse current = call("read " + lease.key(), () -> client.getKVClient().get(k));
    if (current.getKvs().isEmpty() || current.getKvs().get(0).getLease() != lease.id()) return Optional.empty();
    long ttlSeconds = Math.max(1, (ttl.toMillis() + 999) / 1000);
    long leaseId = call("grant a lease for " + lease.key(), () -> client.getLeaseClient().grant(ttlSeconds)).getID();
    // unchanged since it was read on the old lease (an expired lease deletes the key: another revision)
    TxnResponse r = await("move " + lease.key() + " to a new lease", client.getKVClient().txn()
        .If(new Cmp(k, Cmp.Op.EQUAL, CmpTarget.modRevision(current.getKvs().get(0).getModRevision())))
        .Then(Op.put(k, bytes(lease.holder()), PutOption.builder().withLeaseId(leaseId).build()))
        .commit());
    if (!r.isSucceeded()) {
      client.getLeaseClient().revoke(leaseId);
      return Optional.empty();
    }
    client.getLeaseClient().revoke(lease.id()); // nothing is attached to it any more
    return Optional.of(new Lease(lease.key(), lease.holder(), leaseId, ttl));
  }

  @Override
  public void release(Lease lease) {
    try {
      call("release " + lease.key(), () -> client.getLeaseClient().revoke(lease.id()));
    } catch (LeaseStoreUnavailableException e) {
      if (!Etcd.leaseNotFound(e.getCause())) throw e;
    }
  }

  @Override
  public Optional<String> holder(String key) {
    GetResponse r = call("read " + key, () -> client.getKVClient().get(bytes(prefix + key)));
    return r.getKvs().isEmpty() ? Optional.empty() : Optional.of(string(r.getKvs().get(0).getValue()));
  }

  @Override
  public void close() {
    if (ownsClient) client.close();
  }

  private <T> T await(String what, CompletableFuture<T> future) {
    return Etcd.await(what, future, timeout);
  }

  private <T> T call(String what, java.util.function.Supplier<CompletableFuture<T>> op) {
    return Etcd.call(what, op, timeout);
  }

  static ByteSequence bytes(String s) {
    return ByteSequence.from(s, StandardCharsets.UTF_8);
  }

  static String string(ByteSequence b) {
    return b.toString(StandardCharsets.UTF_8);
  }
}
