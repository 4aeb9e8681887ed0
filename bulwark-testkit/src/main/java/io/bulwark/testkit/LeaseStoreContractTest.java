package io.bulwark.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.bulwark.cluster.lease.LeaseStore;
import io.bulwark.cluster.lease.LeaseStore.Acquisition;
import io.bulwark.cluster.lease.LeaseStore.Lease;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What every {@link LeaseStore} promises, run against each implementation (in memory, etcd).
 * Subclasses say how to make a store and how to let a lease's ttl pass: advancing a settable clock,
 * or waiting on the real store's clock.
 */
public abstract class LeaseStoreContractTest {
  protected LeaseStore store;
  private String key;

  /** A fresh store (a fresh namespace of one). */
  protected abstract LeaseStore newStore() throws Exception;

  /** The shortest ttl the store honours (etcd raises shorter ones to its minimum). */
  protected abstract Duration ttl();

  /** Returns once a lease of {@link #ttl()} taken now, and not renewed, has expired in the store. */
  protected abstract void letTtlPass(String key) throws Exception;

  /** Lets {@code d} pass on the store's clock (a settable clock, or real time). */
  protected abstract void elapse(Duration d) throws Exception;

  @BeforeEach
  void open() throws Exception {
    store = newStore();
    key = "leader-" + UUID.randomUUID();
  }

  @AfterEach
  void closeStore() {
    if (store != null) store.close();
  }

  @Test
  void a_free_key_is_acquired_and_its_holder_is_visible() {
    Acquisition a = store.tryAcquire(key, "node-a", ttl());
    assertThat(a.succeeded()).isTrue();
    assertThat(a.lease().orElseThrow().holder()).isEqualTo("node-a");
    assertThat(store.holder(key)).contains("node-a");
  }

  @Test
  void a_held_key_is_refused_to_another_holder_who_is_told_who_holds_it() {
    store.tryAcquire(key, "node-a", ttl());
    Acquisition b = store.tryAcquire(key, "node-b", ttl());
    assertThat(b.succeeded()).isFalse();
    assertThat(b.heldBy()).contains("node-a");
  }

  @Test
  void a_renewed_lease_outlives_its_first_ttl() throws Exception {
    Lease lease = store.tryAcquire(key, "node-a", ttl()).lease().orElseThrow();
    for (int i = 0; i < 3; i++) { // renewed every half ttl: one and a half ttls in all
      elapse(ttl().dividedBy(2));
      assertThat(store.renew(lease)).isTrue();
    }
    assertThat(store.holder(key)).contains("node-a");
    assertThat(store.tryAcquire(key, "node-b", ttl()).succeeded()).isFalse();
  }

  @Test
  void an_expired_lease_can_be_taken_by_another_and_the_old_holder_learns_it_lost_it() throws Exception {
    Lease old = store.tryAcquire(key, "node-a", ttl()).lease().orElseThrow();
    letTtlPass(key);
    assertThat(store.holder(key)).isEmpty();
    Acquisition b = store.tryAcquire(key, "node-b", ttl());
    assertThat(b.succeeded()).isTrue();
    assertThat(store.renew(old)).as("renewing a lease that expired").isFalse();
    assertThat(store.holder(key)).contains("node-b");
  }

  @Test
  void a_released_lease_frees_the_key_at_once_and_releasing_twice_is_harmless() {
    Lease lease = store.tryAcquire(key, "node-a", ttl()).lease().orElseThrow();
    store.release(lease);
    store.release(lease);
    assertThat(store.holder(key)).isEmpty();
    assertThat(store.renew(lease)).isFalse();
    assertThat(store.tryAcquire(key, "node-b", ttl()).succeeded()).isTrue();
  }

  @Test
  void releasing_an_old_lease_never_frees_a_newer_holding() throws Exception {
    Lease old = store.tryAcquire(key, "node-a", ttl()).lease().orElseThrow();
    letTtlPass(key);
    store.tryAcquire(key, "node-b", ttl()).lease().orElseThrow();
    store.release(old);
    assertThat(store.holder(key)).contains("node-b");
  }

  @Test
  void a_reheld_key_stays_with_its_holder_under_the_new_lease_only() throws Exception {
    Lease old = store.tryAcquire(key, "node-a", ttl()).lease().orElseThrow();
    Lease longer = store.rehold(old, ttl().multipliedBy(4)).orElseThrow();
    assertThat(longer.id()).isNotEqualTo(old.id());
    assertThat(longer.ttl()).isEqualTo(ttl().multipliedBy(4));
    assertThat(store.holder(key)).contains("node-a");
    assertThat(store.renew(old)).as("the old lease holds the key no more").isFalse();
    elapse(ttl().multipliedBy(3).dividedBy(2)); // past the old ttl, within the new one
    assertThat(store.holder(key)).contains("node-a");
    assertThat(store.renew(longer)).isTrue();
    assertThat(store.tryAcquire(key, "node-b", ttl()).succeeded()).isFalse();
  }

  @Test
  void a_lease_that_lost_its_key_cannot_rehold_it() throws Exception {
    Lease old = store.tryAcquire(key, "node-a", ttl()).lease().orElseThrow();
    letTtlPass(key);
    store.tryAcquire(key, "node-b", ttl()).lease().orElseThrow();
    assertThat(store.rehold(old, ttl().multipliedBy(4))).isEmpty();
    assertThat(store.holder(key)).contains("node-b");
  }

  @Test
  void of_many_concurrent_acquirers_exactly_one_wins() throws Exception {
    int n = 8;
    CyclicBarrier start = new CyclicBarrier(n);
    ExecutorService pool = Executors.newFixedThreadPool(n);
    try {
      List<Future<Acquisition>> results = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        String holder = "node-" + i;
        Callable<Acquisition> attempt = () -> {
          start.await();
          return store.tryAcquire(key, holder, ttl());
        };
        results.add(pool.submit(attempt));
      }
      List<String> winners = new ArrayList<>();
      for (Future<Acquisition> f : results) f.get().lease().ifPresent(l -> winners.add(l.holder()));
      assertThat(winners).hasSize(1);
      assertThat(store.holder(key)).contains(winners.get(0));
    } finally {
      pool.shutdownNow();
    }
  }
}
