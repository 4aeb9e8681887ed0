package io.bulwark.api;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.bulwark.core.metrics.Metrics;
import io.bulwark.postgres.TenantSettingsRepository;
import io.bulwark.postgres.TenantSettingsRepository.QuotaState;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A tenant's quotas as one API server enforces them: tasks queued at once, and bytes of inputs and
 * results kept stored, against the limits in {@code tenant_settings}. A submission that would go past
 * either is refused with 429 (its type says which quota) before anything is stored.
 *
 * <p>What a tenant holds is read from the database at most once a second per tenant and server (one
 * query; the queued tasks counted up to one past the limit), plus what this server admitted since.
 * Several API servers each add their own: a tenant can go past its quota by what the others admitted
 * within that second, no more. A submission waits for a read only on the tenant's first one.
 */
final class TenantQuotas {
  static final Duration REFRESH = Duration.ofSeconds(1);
  /** Retry-After of a tenant over its queued-tasks quota: its workers drain it. */
  static final int QUEUED_RETRY_AFTER_SECONDS = 5;
  /** Retry-After of a tenant over its storage quota: only retention (or deleting) frees it. */
  static final int STORED_RETRY_AFTER_SECONDS = 60;

  private static final class Held {
    final ReentrantLock reading = new ReentrantLock();
    volatile QuotaState read;
    volatile long readAt;
    final AtomicLong tasksSince = new AtomicLong();
    final AtomicLong bytesSince = new AtomicLong();
  }

  private final TenantSettingsRepository settings;
  private final Cache<String, Held> tenants = Caffeine.newBuilder().maximumSize(100_000).expireAfterAccess(Duration.ofMinutes(10)).build();
  private final Metrics.Counter refusedQueued;
  private final Metrics.Counter refusedStored;

  TenantQuotas(TenantSettingsRepository settings, Metrics metrics) {
    this.settings = settings;
    this.refusedQueued = metrics.counter("api_quota_refusals_total", "Submissions refused with 429: the tenant at a quota", "quota", "queued");
    this.refusedStored = metrics.counter("api_quota_refusals_total", "Submissions refused with 429: the tenant at a quota", "quota", "stored-bytes");
  }

  /** Refuses (429) a submission of {@code tasks} tasks storing up to {@code bytes} that would go past a quota. */
  void admit(String tenant, int tasks, long bytes) {
    Held h = fresh(tenant);
    QuotaState s = h.read;
    long queued = s.queued() + h.tasksSince.get();
    if (queued + tasks > s.limits().maxQueued()) {
      refusedQueued.inc();
      throw new ApiProblem(429, "quota-exceeded", "Quota exceeded", "tenant " + tenant + " has " + queued + " task(s) queued; its quota is "
          + s.limits().maxQueued() + " (these " + tasks + " would pass it). Retry once its workers have run some (Retry-After),"
          + " or ask an admin to raise maxQueued").with("quota", "queued").with("used", queued).with("limit", s.limits().maxQueued())
          .retryAfter(QUEUED_RETRY_AFTER_SECONDS);
    }
    long stored = s.storedBytes() + h.bytesSince.get();
    if (stored + bytes > s.limits().maxStoredBytes()) {
      refusedStored.inc();
      throw new ApiProblem(429, "quota-exceeded", "Quota exceeded", "tenant " + tenant + " keeps " + stored + " bytes of inputs and results"
          + " stored; its quota is " + s.limits().maxStoredBytes() + " (this request's " + bytes + " would pass it). Finished tasks are"
          + " deleted after " + s.limits().retention().toHours() + " h; or ask an admin to raise maxStoredBytes")
          .with("quota", "storedBytes").with("used", stored).with("limit", s.limits().maxStoredBytes()).retryAfter(STORED_RETRY_AFTER_SECONDS);
    }
  }

  /** Counts what was admitted (after its commit) until the next read from the database includes it. */
  void admitted(String tenant, long tasks, long bytes) {
    Held h = tenants.getIfPresent(tenant);
    if (h == null) return;
    h.tasksSince.addAndGet(tasks);
    h.bytesSince.addAndGet(bytes);
  }

  /** The tenant's limits and holdings, read now. */
  QuotaState now(String tenant) {
    return settings.quotaState(tenant);
  }

  private Held fresh(String tenant) {
    Held h = tenants.get(tenant, t -> new Held());
    long now = System.nanoTime();
    if (h.read != null && now - h.readAt < REFRESH.toNanos()) return h;
    // one request reads for the tenant; the others go on with the last read (or wait for the first)
    if (h.read == null) h.reading.lock();
    else if (!h.reading.tryLock()) return h;
    try {
      if (h.read == null || System.nanoTime() - h.readAt >= REFRESH.toNanos()) {
        long tasks = h.tasksSince.get();
        long bytes = h.bytesSince.get();
        h.read = settings.quotaState(tenant);
        h.readAt = System.nanoTime();
        h.tasksSince.addAndGet(-tasks); // what the read includes now
        h.bytesSince.addAndGet(-bytes);
      }
    } finally {
      h.reading.unlock();
    }
    return h;
  }
}
