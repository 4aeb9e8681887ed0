package io.bulwark.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.bulwark.cluster.lease.LeaseStore;
import io.bulwark.cluster.lease.LeaseStoreUnavailableException;
import io.bulwark.testkit.EtcdCluster;
import io.bulwark.testkit.LeaseStoreContractTest;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The lease store on a real three-member etcd cluster: the contract, then quorum loss. */
class EtcdLeaseStoreTest extends LeaseStoreContractTest {
  static EtcdCluster etcd;

  @BeforeAll
  static void startEtcd() {
    etcd = EtcdCluster.start(3);
  }

  @AfterAll
  static void stopEtcd() {
    if (etcd != null) etcd.close();
  }

  @Override
  protected LeaseStore newStore() {
    return EtcdLeaseStore.connect(etcd.endpoints(), "/bulwark-test/" + UUID.randomUUID() + "/leases", Duration.ofSeconds(2));
  }

  @Override
  protected Duration ttl() {
    return Duration.ofSeconds(2);
  }

  @Override
  protected void elapse(Duration d) throws InterruptedException {
    Thread.sleep(d.toMillis()); // the time passing is what is tested: etcd's clock cannot be set
  }

  @Override
  protected void letTtlPass(String key) {
    await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100)).until(() -> store.holder(key).isEmpty());
  }

  @Test
  void one_member_lost_changes_nothing_and_without_quorum_calls_fail_within_the_timeout() {
    LeaseStore.Lease lease = store.tryAcquire("leader", "node-a", ttl()).lease().orElseThrow();
    EtcdCluster.Member first = etcd.members().get(0);
    etcd.kill(first);
    try {
      assertThat(store.renew(lease)).as("two of three members: quorum").isTrue();
      assertThat(store.holder("leader")).contains("node-a");
      EtcdCluster.Member second = etcd.members().get(1);
      etcd.kill(second);
      try {
        long began = System.nanoTime();
        assertThatThrownBy(() -> store.renew(lease)).isInstanceOf(LeaseStoreUnavailableException.class);
        assertThat(Duration.ofNanos(System.nanoTime() - began)).as("bounded by the timeout").isLessThan(Duration.ofSeconds(4));
        assertThatThrownBy(() -> store.tryAcquire("other", "node-b", ttl())).isInstanceOf(LeaseStoreUnavailableException.class);
      } finally {
        etcd.restart(second);
      }
    } finally {
      etcd.restart(first);
    }
    // quorum is back: the store answers again
    await().atMost(Duration.ofSeconds(15)).ignoreExceptions().until(() -> store.tryAcquire("after", "node-c", ttl()).succeeded());
  }
}
