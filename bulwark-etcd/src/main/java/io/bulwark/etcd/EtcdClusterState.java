package io.bulwark.etcd;

import io.bulwark.cluster.events.EventJournal;
import io.bulwark.cluster.lease.LeaseStoreUnavailableException;
import io.bulwark.cluster.state.ClusterKeys;
import io.bulwark.core.BulwarkException;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

/**
 * A cluster's state in etcd, under {@code /bulwark/<cluster>/}: its identity ({@code cluster-id}),
 * the nodes' registrations ({@code members/<node>}, each under a lease: an agent that stops renewing
 * disappears), and the event journal ({@code events/}).
 */
public final class EtcdClusterState implements AutoCloseable {
  private final Client client;
  private final String prefix;
  private final Duration timeout;

  /** The state of the cluster a cluster file describes, on its etcd; a file that names no etcd is refused. */
  public static EtcdClusterState of(io.bulwark.cluster.spec.ClusterSpec spec, Duration timeout) {
    if (spec.etcd().endpoints().isEmpty()) {
      throw new BulwarkException("cluster '" + spec.name() + "' names no etcd endpoint; its agents register and coordinate"
          + " through etcd: set [etcd] endpoints = [\"http://host:2379\", ...]");
    }
    return new EtcdClusterState(spec.etcd().endpoints(), spec.etcdPrefix(), timeout);
  }

  public EtcdClusterState(List<String> endpoints, String prefix, Duration timeout) {
    this.client = Etcd.client(endpoints, timeout);
    this.prefix = prefix.endsWith("/") ? prefix : prefix + "/";
    this.timeout = timeout;
  }

  /**
   * Joins the cluster: returns the id etcd holds for it, creating one if there is none. An agent
   * whose data directory already belongs to a cluster ({@code localId}) refuses an etcd that holds
   * another one's state under the same name: it would register into, and act on, a stranger's state.
   */
  public String join(Optional<String> localId) {
    ByteSequence key = EtcdLeaseStore.bytes(prefix + "cluster-id");
    String fresh = localId.orElseGet(() -> UUID.randomUUID().toString());
    TxnResponse r = await("read the cluster id", client.getKVClient().txn()
        .If(new Cmp(key, Cmp.Op.EQUAL, CmpTarget.version(0)))
        .Then(Op.put(key, EtcdLeaseStore.bytes(fresh), PutOption.DEFAULT))
        .Else(Op.get(key, GetOption.DEFAULT)).commit());
    String id = r.isSucceeded() ? fresh : EtcdLeaseStore.string(r.getGetResponses().get(0).getKvs().get(0).getValue());
    if (localId.isPresent() && !localId.get().equals(id)) {
      throw new BulwarkException("etcd holds the state of another cluster under " + prefix + " (id " + id + "); this node's"
          + " data directory belongs to cluster id " + localId.get() + ". Refusing to join: point --cluster at this"
          + " cluster's etcd, or give the cluster file another name");
    }
    return id;
  }

  /** Registers {@code node} with {@code value}, kept while {@link Registration#refresh} is called within {@code ttl}. */
  public Registration register(String node, Duration ttl) {
    return new Registration(EtcdLeaseStore.bytes(prefix + "members/" + node), Math.max(1, ttl.toSeconds()));
  }

  /** Every registered node's value, by node name. */
  public Map<String, byte[]> members() {
    String p = prefix + "members/";
    List<KeyValue> kvs = Etcd.call("list the members", () -> client.getKVClient().get(EtcdLeaseStore.bytes(p),
        GetOption.builder().isPrefix(true).build()), timeout).getKvs();
    Map<String, byte[]> out = new LinkedHashMap<>();
    for (KeyValue kv : kvs) out.put(EtcdLeaseStore.string(kv.getKey()).substring(p.length()), kv.getValue().getBytes());
    return out;
  }

  /** The cluster's small shared keys ({@code db/sync}, {@code db/last-leader}, ...), on this connection. */
  public ClusterKeys keys() {
    return new ClusterKeys() {
      @Override
      public Optional<String> get(String key) {
        List<KeyValue> kvs = Etcd.call("read " + key, () -> client.getKVClient().get(EtcdLeaseStore.bytes(prefix + key)), timeout)
            .getKvs();
        return kvs.isEmpty() ? Optional.empty() : Optional.of(EtcdLeaseStore.string(kvs.get(0).getValue()));
      }

      @Override
      public void put(String key, String value) {
        Etcd.call("write " + key, () -> client.getKVClient().put(EtcdLeaseStore.bytes(prefix + key), EtcdLeaseStore.bytes(value)),
            timeout);
      }

      @Override
      public boolean putIfAbsent(String key, String value) {
        ByteSequence k = EtcdLeaseStore.bytes(prefix + key);
        return await("create " + key, client.getKVClient().txn()
            .If(new Cmp(k, Cmp.Op.EQUAL, CmpTarget.version(0)))
            .Then(Op.put(k, EtcdLeaseStore.bytes(value), PutOption.DEFAULT))
            .commit()).isSucceeded();
      }

      @Override
      public void delete(String key) {
        Etcd.call("delete " + key, () -> client.getKVClient().delete(EtcdLeaseStore.bytes(prefix + key)), timeout);
      }
    };
  }

  /** Leases on this connection, under the cluster's namespace (the database leader key is {@code db/leader}). */
  public EtcdLeaseStore leases(Duration callTimeout) {
    return new EtcdLeaseStore(client, prefix, callTimeout);
  }

  /** The cluster's event journal, on this connection. */
  public EventJournal journal() {
    return new EtcdEventJournal(client, prefix + "events", timeout, EtcdEventJournal.DEFAULT_RETENTION);
  }

  /** One node's registration: its key lives while its lease is renewed. */
  public final class Registration implements AutoCloseable {
    private final ByteSequence key;
    private final long ttlSeconds;
    private long lease;
    private byte[] written;

    private Registration(ByteSequence key, long ttlSeconds) {
      this.key = key;
      this.ttlSeconds = ttlSeconds;
    }

    /**
     * Writes the value under the lease, unless it is what was last written under this lease (a write
     * per change, not per second). Call {@link #keepAlive} first, as often as the lease needs.
     *
     * @throws LeaseStoreUnavailableException when etcd does not answer
     */
    public synchronized void publish(byte[] value) {
      if (lease == 0) keepAlive();
      if (written != null && java.util.Arrays.equals(written, value)) return;
      await("register", client.getKVClient().put(key, ByteSequence.from(value), PutOption.builder().withLeaseId(lease).build()));
      written = value.clone();
    }

    /** Renews the lease (a new one, whose key must be written again, if it expired). */
    public synchronized void keepAlive() {
      if (lease == 0 || !alive(lease)) {
        lease = Etcd.call("grant the registration's lease", () -> client.getLeaseClient().grant(ttlSeconds), timeout).getID();
        written = null;
      }
    }

    private boolean alive(long id) {
      try {
        return Etcd.call("renew the registration", () -> client.getLeaseClient().keepAliveOnce(id), timeout).getTTL() > 0;
      } catch (LeaseStoreUnavailableException e) {
        if (Etcd.leaseNotFound(e.getCause())) return false;
        throw e;
      }
    }

    /** Deregisters at once (a clean stop), waiting for etcd at most the timeout. */
    @Override
    public synchronized void close() {
      try {
        if (lease != 0) await("deregister", client.getLeaseClient().revoke(lease));
      } catch (LeaseStoreUnavailableException e) {
        // the lease expires by itself within its ttl
      }
      lease = 0;
    }
  }

  private <T> T await(String what, CompletableFuture<T> f) {
    return Etcd.await(what, f, timeout);
  }

  @Override
  public void close() {
    client.close();
  }
}
