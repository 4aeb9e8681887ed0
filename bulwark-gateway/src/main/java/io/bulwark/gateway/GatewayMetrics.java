package io.bulwark.gateway;

import io.bulwark.core.metrics.Metrics;
import io.bulwark.core.metrics.Metrics.Counter;
import io.bulwark.core.metrics.Metrics.Histogram;

/**
 * The gateway's Prometheus series. Every series is created up front, so the hot path only bumps
 * {@link java.util.concurrent.atomic.LongAdder}s.
 *
 * <pre>
 * bulwark_gateway_requests_total{class="2xx"}            client requests by status class
 * bulwark_gateway_request_seconds                         client request latency
 * bulwark_gateway_backend_requests_total{backend}         attempts sent to a server (retries included)
 * bulwark_gateway_backend_errors_total{backend,kind}      connect, reset, timeout, 5xx, overload (gateway queue full)
 * bulwark_gateway_backend_retries_total{backend}          requests that failed there and were retried elsewhere
 * bulwark_gateway_backend_health_changes_total{backend,to}
 * bulwark_gateway_backend_check_seconds{backend}          health check latency
 * bulwark_gateway_backend_up{backend}                     1 up, 0 down
 * bulwark_gateway_backend_state{backend,state}            1 for the current admin state
 * bulwark_gateway_backend_in_flight{backend}
 * bulwark_gateway_request_body_buffer_bytes               memory held by request bodies being buffered
 * bulwark_gateway_client_throttled_total                  reads paused: a client address over its byte rate
 * </pre>
 */
final class GatewayMetrics {
  private final Metrics metrics;
  private final Counter[] byClass = new Counter[6];
  private final Histogram latency;
  private final Counter throttled;
  /** Memory reserved by request bodies being buffered, all connections together (bytes of capacity). */
  private final java.util.concurrent.atomic.LongAdder bufferedBodyBytes = new java.util.concurrent.atomic.LongAdder();

  GatewayMetrics(Metrics metrics) {
    this.metrics = metrics;
    for (int c = 1; c <= 5; c++) {
      byClass[c] = metrics.counter("gateway_requests_total", "Client requests answered by the gateway, by status class", "class", c + "xx");
    }
    byClass[0] = byClass[5];
    throttled = metrics.counter("gateway_client_throttled_total", "Times a connection's reads were paused: its client address over its byte rate");
    latency = metrics.histogram("gateway_request_seconds", "Client request duration at the gateway, retries included", Metrics.latencyBuckets());
    metrics.gauge("gateway_request_body_buffer_bytes", "Memory held by request bodies being buffered, all clients together",
        bufferedBodyBytes::sum);
  }

  /** A request body's buffer grew (positive) or was released (negative) by this many bytes. */
  void bodyBuffer(long deltaBytes) {
    bufferedBodyBytes.add(deltaBytes);
  }

  void clientThrottled() {
    throttled.inc();
  }

  long bodyBufferBytes() {
    return bufferedBodyBytes.sum();
  }

  void request(int status, long nanos) {
    int c = status / 100;
    byClass[c >= 1 && c <= 5 ? c : 0].inc();
    latency.observeNanos(nanos);
  }

  BackendMetrics backend(Backend b) {
    return new BackendMetrics(metrics, b);
  }

  /** The series of one server. */
  static final class BackendMetrics {
    final Counter requests;
    final Counter retries;
    final Counter[] errors = new Counter[UpstreamFailure.values().length];
    final Counter fivexx;
    final Counter wentUp;
    final Counter wentDown;
    final Histogram checkLatency;

    BackendMetrics(Metrics metrics, Backend b) {
      String name = b.name();
      requests = metrics.counter("gateway_backend_requests_total", "Requests sent to a server, retries included", "backend", name);
      retries = metrics.counter("gateway_backend_retries_total", "Requests that failed on a server and were retried on another", "backend", name);
      for (UpstreamFailure f : UpstreamFailure.values()) {
        if (f.metricKind() != null) {
          errors[f.ordinal()] = metrics.counter("gateway_backend_errors_total", "Failed requests to a server, by kind", "backend", name, "kind", f.metricKind());
        }
      }
      fivexx = metrics.counter("gateway_backend_errors_total", "Failed requests to a server, by kind", "backend", name, "kind", "5xx");
      wentUp = metrics.counter("gateway_backend_health_changes_total", "Health changes of a server", "backend", name, "to", "up");
      wentDown = metrics.counter("gateway_backend_health_changes_total", "Health changes of a server", "backend", name, "to", "down");
      checkLatency = metrics.histogram("gateway_backend_check_seconds", "Health check duration", Metrics.latencyBuckets(), "backend", name);
      metrics.gauge("gateway_backend_up", "1 while a server's health is up, 0 while down", () -> b.health() == Health.UP ? 1 : 0, "backend", name);
      for (ServerState s : ServerState.values()) {
        metrics.gauge("gateway_backend_state", "1 for a server's current admin state", () -> b.state() == s ? 1 : 0, "backend", name, "state", s.label());
      }
      metrics.gauge("gateway_backend_in_flight", "Requests being proxied to a server now", b::inFlight, "backend", name);
    }

    void error(UpstreamFailure f) {
      Counter c = errors[f.ordinal()];
      if (c != null) c.inc();
    }
  }
}
