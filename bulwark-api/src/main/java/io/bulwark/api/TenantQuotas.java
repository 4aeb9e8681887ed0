package io.bulwark.api;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.bulwark.core.metrics.Metrics;
import io.bulwark.postgres.TenantSettingsRepository;
import io.bulwark.postgres.TenantSettingsRepository.QuotaState;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A tenant's quotas as one API server enforces them: tasks queued at once, and bytes of inputs and
 * results kept stored, against the limits in {@code tenant_settings}. A submission that would go past
 * either is refused with 429 (its type says which quota) before anything is stored.
 *
 * <p>What a tenant holds is read from the database (one query; the queued tasks counted up to one
 * past the limit, so the read costs more the more a tenant has queued), plus what this server admitted
 * since. A tenant near a quota (within a fifth of it, or having used a quarter of its headroom since
 * the last read) is read at most once a second per server; one far below is read every 10 s. Several
 * API servers each add their own: a tenant near its quota can go past it by what the others admitted
 * within a second, no more. Only a tenant's first submission waits for a read; later reads run in the
 * background while submissions go on with the last one. A limit changed through this server applies
 * at once here, within 10 s on the others.
 */
final class TenantQuotas {
  private static final Logger log = LoggerFactory.getLogger(TenantQuotas.class);
  /** How often a tenant near a quota is read. */
  static final Duration REFRESH = Duration.ofSeconds(1);
  /** How often a tenant far below its quotas is read. */
  static final Duration RELAXED_REFRESH = Duration.ofSeconds(10);
  /** Retry-After of a tenant over its queued-tasks quota: its workers drain it. */
  static final int QUEUED_RETRY_AFTER_SECONDS = 5;
  /** Retry-After of a tenant over its storage quota: only retention (or deleting) frees it. */
  static final int STORED_RETRY_AFTER_SECONDS = 60;

  private static final class Held {
    final ReentrantLock reading = new ReentrantLock();
    final AtomicBoolean refreshing = new AtomicBoolean();
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

  /** Forgets what was read of the tenant (its limits were just changed; all of them for the defaults): the next submission reads them. */
  void forget(String tenant) {
    if (tenant.equals(TenantSettingsRepository.DEFAULTS)) tenants.invalidateAll();
    else tenants.invalidate(tenant);
  }

  private Held fresh(String tenant) {
    Held h = tenants.get(tenant, t -> new Held());
    if (h.read == null) {
      h.reading.lock(); // the tenant's first submission here waits for the first read (one reads, the others wait)
      try {
        if (h.read == null) read(h, tenant);
      } finally {
        h.reading.unlock();
      }
    } else if (stale(h, System.nanoTime()) && h.refreshing.compareAndSet(false, true)) {
      Thread.ofVirtual().name("quota-read").start(() -> {
        try {
          read(h, tenant);
        } catch (RuntimeException e) {
          log.debug("reading tenant {}'s quota state failed; the last read stays in use", tenant, e);
        } finally {
          h.refreshing.set(false);
        }
      });
    }
    return h;
  }

  private static boolean stale(Held h, long now) {
    long age = now - h.readAt;
    if (age >= RELAXED_REFRESH.toNanos()) return true;
    if (age < REFRESH.toNanos()) return false;
    QuotaState s = h.read;
    long maxQueued = s.limits().maxQueued();
    long maxStored = s.limits().maxStoredBytes();
    long queuedRoom = maxQueued - s.queued();
    long storedRoom = maxStored - s.storedBytes();
    return queuedRoom < maxQueued / 5 || storedRoom < maxStored / 5
        || h.tasksSince.get() >= queuedRoom / 4 || h.bytesSince.get() >= storedRoom / 4;
  }

  private void read(Held h, String tenant) {
    long tasks = h.tasksSince.get();
    long bytes = h.bytesSince.get();
    QuotaState read = settings.quotaState(tenant);
    h.tasksSince.addAndGet(-tasks); // what the read includes now
    h.bytesSince.addAndGet(-bytes);
    h.readAt = System.nanoTime();
    h.read = read;
  }
}
