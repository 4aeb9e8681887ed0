package io.bulwark.testkit;

import io.bulwark.cluster.lease.InMemoryLeaseStore;
import io.bulwark.cluster.lease.LeaseStore;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/** The one-machine lease store against the contract; time is a settable clock, so no test waits. */
class InMemoryLeaseStoreTest extends LeaseStoreContractTest {
  private final AtomicLong nanos = new AtomicLong(42);

  @Override
  protected LeaseStore newStore() {
    return new InMemoryLeaseStore(nanos::get);
  }

  @Override
  protected Duration ttl() {
    return Duration.ofSeconds(5);
  }

  @Override
  protected void elapse(Duration d) {
    nanos.addAndGet(d.toNanos());
  }

  @Override
  protected void letTtlPass(String key) {
    nanos.addAndGet(ttl().toNanos());
  }
}
