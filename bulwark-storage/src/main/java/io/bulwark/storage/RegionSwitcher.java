package io.bulwark.storage;

import io.bulwark.core.blob.BlobRef;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides, for the whole deployment, which storage region takes writes: probes each region every
 * {@code interval} (write, read back and verify a small blob under {@code _probe/}), and when the
 * active region has failed {@code fall} probes in a row (a window that tolerates a blip) while the
 * other passes, writes the other into the {@link RegionChoice} every process reads. No failback unless
 * configured: a switch back is made with {@code bulwark storage switch} when you choose. One instance
 * runs per deployment (the supervisor of `up`; in a cluster the holder of the storage lease).
 *
 * <p>A probe that has not finished within the interval counts as failed (a region that hangs is as
 * gone as one that refuses), and the next probe of that region waits until it ends.
 */
public final class RegionSwitcher implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(RegionSwitcher.class);

  /** Probe every {@code interval}; switch after {@code fall} failures in a row; optional failback after {@code failbackAfter} passes. */
  public record Config(Duration interval, int fall, boolean failback, int failbackAfter) {
    /** 1 s, 5 failures (≈ 5 s of a dead region before the deployment switches), no failback. */
    public static final Config DEFAULTS = new Config(Duration.ofSeconds(1), 5, false, 30);
  }

  /** One region's probes. */
  public record Probe(String region, boolean lastPassed, int passedInARow, int failedInARow, String lastProblem) {}

  private final List<ReplicatedBlobStore.Region> regions;
  private final RegionChoice choice;
  private final Config config;
  private final String holder;
  private final BiConsumer<String, String> onSwitch;
  private final java.util.function.BooleanSupplier mayAct;
  private final ScheduledExecutorService loop =
      Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("region-switcher").factory());
  private final ExecutorService probes = Executors.newVirtualThreadPerTaskExecutor();
  private final CompletableFuture<?>[] running;
  private volatile Probe[] state;

  /**
   * @param holder names this switcher's probe blobs
   * @param onSwitch told (region, why) after each switch: the event journal
   */
  public RegionSwitcher(List<ReplicatedBlobStore.Region> regions, RegionChoice choice, Config config, String holder,
      BiConsumer<String, String> onSwitch) {
    this(regions, choice, config, holder, onSwitch, () -> true);
  }

  /**
   * @param mayAct whether this switcher may switch now (in a cluster: while its agent holds the storage
   *     lease); it probes either way, so a new holder knows the regions' state at once
   */
  public RegionSwitcher(List<ReplicatedBlobStore.Region> regions, RegionChoice choice, Config config, String holder,
      BiConsumer<String, String> onSwitch, java.util.function.BooleanSupplier mayAct) {
    this.mayAct = mayAct;
    this.regions = List.copyOf(regions);
    this.choice = choice;
    this.config = config;
    this.holder = holder;
    this.onSwitch = onSwitch;
    this.running = new CompletableFuture<?>[regions.size()];
    this.state = regions.stream().map(r -> new Probe(r.name(), true, 0, 0, null)).toArray(Probe[]::new);
  }

  public void start() {
    loop.scheduleWithFixedDelay(this::round, 0, config.interval().toMillis(), TimeUnit.MILLISECONDS);
  }

  public List<Probe> probes() {
    return Arrays.asList(state.clone());
  }

  private void round() {
    try {
      List<CompletableFuture<String>> results = new ArrayList<>();
      for (int i = 0; i < regions.size(); i++) {
        if (running[i] != null && !running[i].isDone()) {
          results.add(CompletableFuture.completedFuture("the previous probe has not finished after " + config.interval().toMillis() + " ms"));
          continue;
        }
        ReplicatedBlobStore.Region r = regions.get(i);
        CompletableFuture<String> f = CompletableFuture.supplyAsync(() -> probe(r), probes);
        running[i] = f;
        results.add(f);
      }
      Probe[] next = state.clone();
      for (int i = 0; i < regions.size(); i++) {
        String problem;
        try {
          problem = results.get(i).get(config.interval().toMillis(), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
          problem = "no answer within " + config.interval().toMillis() + " ms";
        } catch (Exception e) {
          problem = e.toString();
        }
        Probe p = next[i];
        next[i] = problem == null ? new Probe(p.region(), true, p.passedInARow() + 1, 0, null)
            : new Probe(p.region(), false, 0, p.failedInARow() + 1, problem);
      }
      state = next;
      if (mayAct.getAsBoolean()) decide(next);
    } catch (RuntimeException e) {
      log.warn("storage region probe round failed: {}", e.toString());
    }
  }

  private void decide(Probe[] now) {
    String active = choice.active();
    Probe at = null;
    Probe other = null;
    for (Probe p : now) {
      if (p.region().equals(active)) at = p;
      else if (other == null || (!other.lastPassed() && p.lastPassed())) other = p;
    }
    if (at == null || other == null) return;
    if (at.failedInARow() >= config.fall() && other.lastPassed()) {
      String why = "region " + active + " failed " + at.failedInARow() + " probes in a row (" + at.lastProblem() + "); region "
          + other.region() + " passes";
      onSwitch.accept(other.region(), why); // first: in a cluster it records the choice in etcd, and failing there stops the switch
      choice.switchTo(other.region(), why);
      log.warn("storage: writes now go to region {}: {}", other.region(), why);
    } else if (config.failback() && !active.equals(now[0].region()) && now[0].passedInARow() >= config.failbackAfter()) {
      String why = "failback: region " + now[0].region() + " passed " + now[0].passedInARow() + " probes in a row";
      onSwitch.accept(now[0].region(), why);
      choice.switchTo(now[0].region(), why);
    }
  }

  /** Writes, reads back and verifies a small blob: null when the region works. */
  private String probe(ReplicatedBlobStore.Region r) {
    byte[] bytes = new byte[64];
    ThreadLocalRandom.current().nextBytes(bytes);
    try {
      BlobRef ref = r.store().put("_probe/" + holder, bytes);
      byte[] back = r.store().get(ref);
      return Arrays.equals(back, bytes) ? null : "read back other bytes than were written";
    } catch (RuntimeException e) {
      return e.getMessage() == null ? e.toString() : e.getMessage();
    }
  }

  @Override
  public void close() {
    loop.shutdownNow();
    probes.shutdownNow();
  }
}
