package io.bulwark.api;

import io.bulwark.core.blob.BlobStore;
import io.bulwark.core.metrics.Metrics;
import io.bulwark.postgres.ApiKeyRepository;
import io.bulwark.postgres.ReplicationStats;
import io.bulwark.postgres.TaskQueue;
import io.bulwark.postgres.TaskRepository;
import io.bulwark.postgres.TenantSettingsRepository;
import io.bulwark.postgres.UsageRepository;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP API's routes, as one table ({@link #routes}): match a request to its route, check who
 * calls (authentication, the admin flag, the tenant's bounds), answer 405 with {@code Allow} from
 * the table, run the resource's handler ({@link TaskRoutes}, {@link KeyRoutes}, {@link UsageRoutes},
 * {@link HealthRoutes}), and turn any failure into a problem response.
 */
final class ApiRoutes {
  private static final Logger log = LoggerFactory.getLogger(ApiRoutes.class);

  private final ApiConfig config;
  private final Authenticator auth;
  private final UsageRecorder usage;
  private final ApiServer.ReadinessProbe readiness;
  private final Metrics metrics;
  private final Metrics.Counter authFailures;
  private final TenantLimits.Gate tenantGate;
  private final List<Route> routes;

  ApiRoutes(ApiConfig config, TaskRepository tasks, ApiKeyRepository keys, UsageRepository usageRepo, TaskQueue queue,
      Authenticator auth, SubmitBatcher batcher, TaskWaiters waiters, UsageRecorder usage,
      ApiServer.ReadinessProbe readiness, TaskRequests requests, BlobStore blobs, Metrics metrics,
      java.util.function.Supplier<ReplicationStats> replicationStats, TenantSettingsRepository tenantSettings) {
    this.config = config;
    this.auth = auth;
    this.usage = usage;
    this.readiness = readiness;
    this.metrics = metrics;
    this.authFailures = metrics.counter("api_auth_failures_total", "Requests refused for a missing, bad or revoked key");
    this.tenantGate = new TenantLimits.Gate(config.tenantLimits(), metrics);
    TenantQuotas quotas = new TenantQuotas(tenantSettings, metrics);
    TaskRoutes t = new TaskRoutes(config, tasks, batcher, waiters, usage, requests, blobs, tenantGate, quotas, metrics);
    KeyRoutes k = new KeyRoutes(config, keys, auth);
    UsageRoutes u = new UsageRoutes(usageRepo, quotas);
    TenantRoutes tn = new TenantRoutes(config, tenantSettings, quotas);
    HealthRoutes h = new HealthRoutes(metrics, auth, readiness, queue, replicationStats);
    // Literal patterns before {id} ones (tasks/batch before tasks/{id}); a pattern's methods in the order
    // its Allow header lists them.
    this.routes = List.of(
        new Route("GET", "/health/live", "health", Route.Access.PUBLIC, (ex, id) -> h.live(ex)),
        new Route("GET", "/health/ready", "health", Route.Access.PUBLIC, (ex, id) -> h.ready(ex)),
        new Route("GET", "/metrics", "metrics", Route.Access.METRICS, (ex, id) -> h.scrape(ex)),
        new Route("GET", "/v1/tasks", "tasks.list", Route.Access.TENANT, (ex, id) -> t.list(ex)),
        new Route("POST", "/v1/tasks", "tasks.submit", Route.Access.TENANT, (ex, id) -> t.submit(ex)),
        new Route("POST", "/v1/tasks/batch", "tasks.batch", Route.Access.TENANT, (ex, id) -> t.submitBatch(ex)),
        new Route("GET", "/v1/tasks/{id}", "tasks.get", Route.Access.TENANT, (ex, id) -> t.get(ex, TaskRoutes.taskId(id))),
        new Route("GET", "/v1/tasks/{id}/result", "tasks.result", Route.Access.TENANT, (ex, id) -> t.result(ex, TaskRoutes.taskId(id))),
        new Route("POST", "/v1/tasks/{id}/cancel", "tasks.cancel", Route.Access.TENANT, (ex, id) -> t.cancel(ex, TaskRoutes.taskId(id))),
        new Route("POST", "/v1/tasks/{id}/retry", "tasks.retry", Route.Access.TENANT, (ex, id) -> t.redrive(ex, TaskRoutes.taskId(id))),
        new Route("GET", "/v1/usage", "usage", Route.Access.TENANT, (ex, id) -> u.usage(ex)),
        new Route("GET", "/v1/admin/keys", "admin.keys.list", Route.Access.ADMIN, (ex, id) -> k.listKeys(ex)),
        new Route("POST", "/v1/admin/keys", "admin.keys.create", Route.Access.ADMIN, (ex, id) -> k.createKey(ex)),
        new Route("DELETE", "/v1/admin/keys/{id}", "admin.keys.revoke", Route.Access.ADMIN, (ex, id) -> k.revokeKey(ex, id)),
        new Route("GET", "/v1/admin/tenants/{id}", "admin.tenants.get", Route.Access.ADMIN, (ex, id) -> tn.get(ex, id)),
        new Route("PUT", "/v1/admin/tenants/{id}", "admin.tenants.put", Route.Access.ADMIN, (ex, id) -> tn.put(ex, id)));
  }

  /** For tests: what each tenant holds of this server. */
  TenantLimits.Gate tenantGate() {
    return tenantGate;
  }

  void handle(Exchange ex) {
    long t0 = System.nanoTime();
    String route = "unmatched";
    try {
      route = dispatch(ex);
    } catch (ApiProblem p) {
      if (p.status() == 401) authFailures.inc();
      ex.problem(p);
    } catch (RuntimeException e) {
      if (ApiServer.isUnavailable(e)) {
        readiness.markUnreachable();
        ex.problem(ApiProblem.unavailable("the database is unavailable; nothing was stored. Retry shortly"
            + " (with the same Idempotency-Key, if you sent one)"));
      } else if (e.getCause() instanceof ApiProblem p) {
        ex.problem(p);
      } else {
        log.error("[{}] {} {} failed", config.name(), ex.method, ex.path, e);
        ex.problem(new ApiProblem(500, "internal-error", "Internal error",
            "the server failed to handle this request; it is logged. Retry, and report it if it persists"));
      }
    }
    if (ex.principal != null) usage.record(ex.principal.tenant(), ex.bytesIn, ex.bytesOut);
    metrics.counter("http_requests_total", "HTTP requests by route and status class", "route", route, "status",
        (ex.status / 100) + "xx").inc();
    metrics.histogram("http_request_seconds", "HTTP request latency by route", Metrics.latencyBuckets(), "route", route)
        .observeNanos(System.nanoTime() - t0);
  }

  /** Routes the request and returns the route's name (for metrics); throws the problem to answer. */
  private String dispatch(Exchange ex) {
    String p = ex.path;
    boolean v1 = p.startsWith("/v1/");
    // under /v1/ every request is authenticated first: a caller without a key learns nothing, not even
    // which routes exist
    if (v1) ex.principal = auth.authenticate(ex.header("Authorization"));
    String[] segments = p.split("/", -1);
    List<Route> candidates = new ArrayList<>(2);
    String id = null;
    for (Route r : routes) {
      String m = r.match(segments);
      if (m == null) continue;
      if (!candidates.isEmpty() && !r.pattern().equals(candidates.get(0).pattern())) break; // a later pattern
      candidates.add(r);
      id = m;
    }
    if (candidates.isEmpty()) {
      throw ApiProblem.notFound("no such endpoint: " + ex.method + " " + p + (v1 ? "" : "; the API lives under /v1/"));
    }
    Route.Access access = candidates.get(0).access();
    if (access == Route.Access.ADMIN && !ex.principal.admin()) {
      throw new ApiProblem(403, "forbidden", "Forbidden", "this endpoint needs an admin API key");
    }
    Route route = candidates.stream().filter(r -> r.method().equals(ex.method)).findFirst().orElse(null);
    if (route == null) {
      String allow = String.join(", ", candidates.stream().map(Route::method).toList());
      ex.header("Allow", allow);
      throw new ApiProblem(405, "method-not-allowed", "Method not allowed", ex.method + " is not supported on " + p
          + "; use " + allow);
    }
    if (access == Route.Access.TENANT || access == Route.Access.ADMIN) {
      try (TenantLimits.Permit admitted = tenantGate.request(ex.principal.tenant())) {
        route.handler().handle(ex, id);
      }
    } else {
      route.handler().handle(ex, id);
    }
    return route.name();
  }
}
