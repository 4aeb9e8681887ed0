package io.bulwark.dns;

import io.bulwark.cluster.events.Event.Kinds;
import io.bulwark.cluster.events.EventRecorder;
import io.bulwark.cluster.lease.LeaderLease;
import io.bulwark.cluster.lease.LeaseStore;
import io.bulwark.cluster.lease.LeaseStoreUnavailableException;
import io.bulwark.core.metrics.Metrics;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps one DNS name pointing at a healthy gateway: the {@code dns} role.
 *
 * <p>Every {@code interval} it checks each gateway from outside, through its public port, all the way
 * to an API server's readiness ({@link Gateway#health()}), takes or renews the leader lease
 * {@value #LEASE_KEY} (so that of several controllers in a cluster exactly one acts; on one machine
 * the lease store is in-process), reads the record, asks {@link DnsPolicy} what to do, and, as the
 * leader, does it through the {@link DnsProvider}. A provider that fails is retried with backoff
 * (its own {@code Retry-After} when it gives one) and the switch completes when it is back; every
 * change, gateway health change, provider failure and leadership change goes to the event journal.
 *
 * <p>One thread owns all state: the loop. Planned switches ({@link #switchTo}) run on it too, so a
 * planned and an automatic switch never race. Others read the immutable {@link #status()}.
 */
public final class DnsController implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DnsController.class);
  /** The lease whose holder is the controller that acts. */
  public static final String LEASE_KEY = "dns/leader";
  static final Duration MAX_BACKOFF = Duration.ofSeconds(30);

  /**
   * @param holder this controller's name in the lease (e.g. its node)
   * @param interval how often gateways are checked and the policy consulted
   * @param checkTimeout how long one check may take (connect and answer)
   */
  public record Config(List<Gateway> gateways, DnsPolicy.Config policy, Duration interval, Duration checkTimeout, String holder,
      LeaderLease.Config lease) {
    public Config {
      gateways = List.copyOf(gateways);
      if (gateways.size() < 2) {
        throw new DnsConfigException("the DNS controller needs at least two gateways to switch between, got " + gateways.size());
      }
      if (gateways.stream().map(Gateway::name).distinct().count() != gateways.size()) {
        throw new DnsConfigException("two gateways have the same name: " + gateways.stream().map(Gateway::name).toList());
      }
      if (gateways.stream().map(g -> g.target().toLowerCase(java.util.Locale.ROOT)).distinct().count() != gateways.size()) {
        throw new DnsConfigException("two gateways have the same address, so the name cannot tell them apart: "
            + gateways.stream().map(g -> g.name() + "=" + g.target()).toList() + "; give each gateway its own address");
      }
      if (checkTimeout.compareTo(interval) > 0) {
        throw new DnsConfigException("the check timeout (" + checkTimeout.toMillis() + " ms) must not exceed the interval ("
            + interval.toMillis() + " ms)");
      }
    }
  }

  private final Config config;
  private final DnsProvider provider;
  private final LeaseStore leases;
  private final EventRecorder events;
  private final Clock clock;
  private final ScheduledExecutorService loop =
      Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("dns-controller").factory());
  private final ExecutorService probes = Executors.newVirtualThreadPerTaskExecutor();
  private final HttpClient http;
  private final Metrics.Counter switches;
  private final Metrics.Counter providerFailures;

  // owned by the loop thread
  private List<DnsPolicy.GatewayHealth> health;
  private final LeaderLease leaderLease;
  private LeaseStore.Lease lease;
  private boolean leading;
  private Optional<String> current = Optional.empty();
  private String providerProblem;
  private int providerFailuresInARow;
  private long providerRetryAtNanos;
  private DnsStatus.Change lastChange;
  /** A forced switch's target: the record stays on it until it passes its checks (or another planned switch). */
  private Gateway pinned;

  private volatile DnsStatus status;

  public DnsController(Config config, DnsProvider provider, LeaseStore leases, EventRecorder events, Metrics metrics) {
    this.config = config;
    this.provider = provider;
    this.leases = leases;
    this.events = events;
    this.clock = Clock.systemUTC();
    this.leaderLease = new LeaderLease(config.lease());
    this.health = config.gateways().stream().map(DnsPolicy.GatewayHealth::unknown).toList();
    this.http = HttpClient.newBuilder().connectTimeout(config.checkTimeout()).followRedirects(HttpClient.Redirect.NEVER).build();
    this.switches = metrics.counter("dns_switches_total", "Times the DNS name was pointed at another gateway");
    this.providerFailures = metrics.counter("dns_provider_failures_total", "DNS provider requests that failed");
    for (int i = 0; i < config.gateways().size(); i++) {
      int index = i;
      metrics.gauge("dns_gateway_healthy", "1 when the gateway passes its checks through its public port",
          () -> health.get(index).isHealthy() ? 1 : 0, "gateway", config.gateways().get(i).name());
    }
    metrics.gauge("dns_leader", "1 when this controller holds the DNS leader lease and acts", () -> leading ? 1 : 0);
    this.status = snapshot();
  }

  /** Checks the provider's set-up (key, zone, rights) once, then starts the loop. */
  public void start() {
    provider.validate();
    loop.scheduleWithFixedDelay(this::tick, 0, config.interval().toMillis(), TimeUnit.MILLISECONDS);
    log.info("DNS controller keeps {} ({}) on a healthy gateway of {} via {}", provider.record().name(), provider.record().type(),
        config.gateways().stream().map(Gateway::name).toList(), provider.describe());
  }

  /** What the controller knows now. */
  public DnsStatus status() {
    return status;
  }

  /**
   * A planned switch to the gateway named {@code gatewayName}: refused when it is not healthy unless
   * {@code force}, and only by the controller that holds the lease. Completes with the status after
   * the switch, or exceptionally with the reason (a {@link DnsConfigException} for a refusal).
   */
  public CompletableFuture<DnsStatus> switchTo(String gatewayName, boolean force) {
    CompletableFuture<DnsStatus> done = new CompletableFuture<>();
    loop.execute(() -> {
      try {
        done.complete(planned(gatewayName, force));
      } catch (RuntimeException e) {
        done.completeExceptionally(e);
      }
    });
    return done;
  }

  private DnsStatus planned(String gatewayName, boolean force) {
    DnsPolicy.GatewayHealth target = health.stream().filter(h -> h.gateway().name().equals(gatewayName)).findFirst()
        .orElseThrow(() -> new UnknownGatewayException("no gateway named '" + gatewayName + "'; the gateways are "
            + config.gateways().stream().map(Gateway::name).toList()));
    if (!leadsNow()) {
      throw new NotLeaderException("this DNS controller does not hold the lease " + LEASE_KEY + " (held by "
          + safeHolder() + "); ask that one");
    }
    Optional<String> refusal = DnsPolicy.refusePlanned(target, force);
    if (refusal.isPresent()) throw new DnsConfigException("refused: " + refusal.get());
    current = provider.current();
    if (current.isPresent() && DnsPolicy.sameTarget(current.get(), target.gateway().target())) {
      status = snapshot();
      return status;
    }
    point(target.gateway(), "planned switch" + (force ? " (forced)" : ""), true);
    pinned = force && !target.isHealthy() ? target.gateway() : null;
    status = snapshot();
    return status;
  }

  private void tick() {
    try {
      check();
      lead();
      if (leading && System.nanoTime() - providerRetryAtNanos >= 0) act();
    } catch (RuntimeException e) {
      log.warn("DNS controller tick failed: {}", e.toString()); // the loop must go on
    } finally {
      status = snapshot();
    }
  }

  /** Checks every gateway at once and records health changes. */
  private void check() {
    List<CompletableFuture<String>> results = new ArrayList<>();
    for (DnsPolicy.GatewayHealth h : health) results.add(CompletableFuture.supplyAsync(() -> probe(h.gateway()), probes));
    List<DnsPolicy.GatewayHealth> next = new ArrayList<>();
    for (int i = 0; i < health.size(); i++) {
      DnsPolicy.GatewayHealth before = health.get(i);
      String problem = results.get(i).join();
      DnsPolicy.GatewayHealth after = before.after(problem == null, problem, config.policy());
      if (before.healthy().isPresent() && before.isHealthy() != after.isHealthy()) {
        events.record(Kinds.DNS_GATEWAY, after.gateway().name() + (after.isHealthy() ? " is healthy again (" + after.passedInARow()
            + " checks passed)" : " is down: " + after.failedInARow() + " checks failed (" + problem + ")"));
      }
      next.add(after);
    }
    health = List.copyOf(next);
  }

  /** One check: null when it passed, else what went wrong. */
  private String probe(Gateway g) {
    try {
      HttpResponse<Void> r = http.send(HttpRequest.newBuilder(g.health()).timeout(config.checkTimeout()).GET().build(),
          HttpResponse.BodyHandlers.discarding());
      return r.statusCode() == 200 ? null : "HTTP " + r.statusCode() + " from " + g.health();
    } catch (HttpTimeoutException e) {
      return "no answer within " + config.checkTimeout().toMillis() + " ms from " + g.health();
    } catch (java.io.IOException e) {
      return (e instanceof java.net.ConnectException ? "connection refused" : e.toString()) + " at " + g.health();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "interrupted";
    }
  }

  /** Takes or renews the lease; acts only while it certainly holds it (the leader-lease rule). */
  private void lead() {
    long sent = System.nanoTime();
    try {
      if (lease == null) {
        LeaseStore.Acquisition a = leases.tryAcquire(LEASE_KEY, config.holder(), config.lease().ttl());
        if (a.succeeded()) {
          lease = a.lease().orElseThrow();
          leaderLease.acquired(sent);
        }
      } else if (leases.renew(lease)) {
        leaderLease.renewed(sent);
      } else {
        lease = null;
        leaderLease.lost();
      }
    } catch (LeaseStoreUnavailableException e) {
      // the verdict below ages the last confirmation: past ttl - margin we stop acting
    }
    boolean now = leaderLease.verdict(System.nanoTime()) == LeaderLease.Verdict.LEAD;
    if (now != leading) {
      leading = now;
      events.record(Kinds.DNS_LEADER, config.holder() + (now ? " holds " + LEASE_KEY + " and acts on " + provider.record().name()
          : " no longer holds " + LEASE_KEY + "; it stops acting"));
      if (!now) lease = null;
    }
  }

  private void act() {
    try {
      current = provider.current();
      providerRecovered();
      if (pinned != null) {
        Gateway p = pinned;
        boolean healthy = health.stream().anyMatch(h -> h.gateway().equals(p) && h.isHealthy());
        if (!healthy) return; // an operator forced the name onto it: automatic switching waits until it passes
        pinned = null;
        events.record(Kinds.DNS_SWITCH, p.name() + ", where a forced switch pinned " + provider.record().name()
            + ", passes its checks: automatic switching resumes");
      }
      DnsPolicy.Decision d = DnsPolicy.decide(config.policy(), health, current);
      if (d instanceof DnsPolicy.SwitchTo s) point(s.to(), d.why(), false);
    } catch (DnsUnavailableException e) {
      providerFailed(e.getMessage(), e.retryAfter().orElse(null));
    } catch (DnsConfigException e) {
      providerFailed(e.getMessage(), MAX_BACKOFF);
    } catch (NotLeaderException e) {
      log.info("DNS controller: {}", e.getMessage()); // the next tick renews or gives the lease up
    }
  }

  /** The lease's verdict now, not as of the last renewal: a provider call may have blocked the loop since. */
  private boolean leadsNow() {
    return leading && leaderLease.verdict(System.nanoTime()) == LeaderLease.Verdict.LEAD;
  }

  private void point(Gateway to, String why, boolean planned) {
    String from = current.orElse("(none)");
    if (!leadsNow()) throw new NotLeaderException("the lease " + LEASE_KEY + " may have expired; not switching");
    provider.point(to.target());
    providerRecovered();
    current = Optional.of(to.target());
    switches.inc();
    lastChange = new DnsStatus.Change(clock.instant(), from, gatewayOf(from), to.target(), to.name(), why, planned);
    events.record(Kinds.DNS_SWITCH, provider.record().name() + " now points at " + to.name() + " (" + to.target() + "), was " + from
        + ": " + why);
    log.info("{} → {} ({}): {}", provider.record().name(), to.name(), to.target(), why);
  }

  private String gatewayOf(String target) {
    return config.gateways().stream().filter(g -> DnsPolicy.sameTarget(g.target(), target)).map(Gateway::name).findFirst().orElse(null);
  }

  private void providerFailed(String message, Duration hint) {
    providerFailures.inc();
    providerFailuresInARow++;
    Duration backoff = Duration.ofMillis(Math.min(MAX_BACKOFF.toMillis(), 500L << Math.min(10, providerFailuresInARow - 1)));
    if (hint != null) backoff = hint.compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : hint;
    providerRetryAtNanos = System.nanoTime() + backoff.toNanos();
    if (!message.equals(providerProblem)) {
      events.record(Kinds.DNS_PROVIDER, provider.describe() + " failed: " + message + "; retrying in " + backoff.toMillis() + " ms");
      log.warn("DNS provider failed: {} (retry in {} ms)", message, backoff.toMillis());
    }
    providerProblem = message;
  }

  private void providerRecovered() {
    if (providerProblem != null) {
      events.record(Kinds.DNS_PROVIDER, provider.describe() + " answers again after " + providerFailuresInARow + " failed attempts");
      log.info("DNS provider answers again");
    }
    providerProblem = null;
    providerFailuresInARow = 0;
  }

  private String safeHolder() {
    try {
      return leases.holder(LEASE_KEY).orElse("nobody");
    } catch (LeaseStoreUnavailableException e) {
      return "unknown: the lease store does not answer";
    }
  }

  private DnsStatus snapshot() {
    List<DnsStatus.GatewayView> gateways = health.stream().map(h -> new DnsStatus.GatewayView(h.gateway().name(), h.gateway().target(),
        h.gateway().health().toString(), h.healthy().map(b -> b ? "healthy" : "down").orElse("unknown"), h.passedInARow(),
        h.failedInARow(), h.lastProblem())).toList();
    return new DnsStatus(provider.record().name(), provider.record().type().name(), provider.record().ttl().toSeconds(),
        provider.describe(), current.orElse(null), current.map(this::gatewayOf).orElse(null), leading, config.holder(), gateways,
        lastChange, providerProblem, pinned == null ? null : pinned.name(), clock.instant());
  }

  /** Stops the loop and gives the lease up at once, so another controller can act without waiting for the ttl. */
  @Override
  public void close() {
    loop.shutdownNow();
    try {
      loop.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    probes.shutdownNow();
    LeaseStore.Lease held = lease;
    if (held != null) {
      try {
        leases.release(held);
      } catch (RuntimeException e) {
        log.debug("cannot release the DNS lease: {}", e.toString());
      }
    }
    http.close();
    provider.close();
  }

  /** A planned switch named a gateway the controller does not know. */
  public static final class UnknownGatewayException extends DnsConfigException {
    UnknownGatewayException(String message) {
      super(message);
    }
  }

  /** A planned switch was asked of a controller that does not hold the lease. */
  public static final class NotLeaderException extends io.bulwark.core.BulwarkException {
    NotLeaderException(String message) {
      super(message);
    }
  }
}
