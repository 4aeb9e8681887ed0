package io.bulwark.gateway;

import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeadersFactory;
import io.netty.util.concurrent.FastThreadLocal;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * What every client connection of one gateway shares: settings, servers, metrics, the access log,
 * and, per event loop, a pool of upstream connections to each server. A pool belongs to one loop
 * and is only touched from it, so it needs no locks.
 */
final class Proxy {
  /** Largest request line plus headers; larger requests get 431 (or 414 for the line alone). */
  static final int REQUEST_HEADER_SIZE = 8 * 1024;
  /** The API servers are ours, but their answers are not bounded by the client's limits. */
  static final int RESPONSE_HEADER_SIZE = 64 * 1024;
  /** Client requests read and queued behind the one being proxied before the gateway stops reading (pipelining). */
  static final int MAX_PIPELINED = 16;
  /**
   * Requests Netty's codec lets a connection have unanswered before it gives up on it. Reading stops
   * at {@link #MAX_PIPELINED}, but what one read brought in is still decoded: this must exceed the
   * smallest requests that fit in one read (64 KiB / ~16 bytes).
   */
  static final int MAX_PIPELINE_DEPTH = 8192;
  /** How often each loop closes pooled connections idle for longer than the pool's idle timeout. */
  static final long POOL_SWEEP_MILLIS = 5_000;

  final String gateway;
  final Backends backends;
  final GatewayMetrics metrics;
  final AccessLog accessLog;
  final RequestReadDeadlines deadlines;
  final EventLoops loops;
  final long maxBodyBytes;
  /** X-Forwarded-Proto: how clients reach the gateway. */
  final io.netty.util.AsciiString scheme;
  /** Client connections held, in all and per address, across every event loop. */
  final ConnectionBudget connections;
  final long upstreamTimeoutNanos;
  final int connectTimeoutMillis;
  final long poolIdleNanos;
  final int maxConnectionsPerLoop;
  final int maxQueuedPerLoop;
  /** Upstream request headers: built from headers the client's decoder validated already. */
  final HttpHeadersFactory trustedHeaders = DefaultHttpHeadersFactory.headersFactory().withValidation(false);
  private final FastThreadLocal<Map<Backend, UpstreamPool>> pools = new FastThreadLocal<>() {
    @Override
    protected Map<Backend, UpstreamPool> initialValue() {
      return new IdentityHashMap<>();
    }
  };

  Proxy(GatewayConfig config, Backends backends, GatewayMetrics metrics, RequestReadDeadlines deadlines, EventLoops loops,
      long poolIdleMillis, int maxConnectionsPerServer, int maxQueuedPerServer) {
    this.gateway = config.name();
    this.backends = backends;
    this.metrics = metrics;
    this.accessLog = new AccessLog(config.name());
    this.deadlines = deadlines;
    this.loops = loops;
    this.maxBodyBytes = config.maxBodyBytes();
    this.scheme = config.tls() == null ? ForwardedHeaders.HTTP : ForwardedHeaders.HTTPS;
    this.connections = new ConnectionBudget(config.connections());
    this.upstreamTimeoutNanos = config.upstreamTimeout().toNanos();
    this.connectTimeoutMillis = (int) Math.min(Integer.MAX_VALUE, config.upstreamConnectTimeout().toMillis());
    this.poolIdleNanos = TimeUnit.MILLISECONDS.toNanos(poolIdleMillis);
    // a server's limits are split between the loops, each of which has its own pool
    this.maxConnectionsPerLoop = Math.max(1, maxConnectionsPerServer / loops.threads);
    this.maxQueuedPerLoop = Math.max(1, maxQueuedPerServer / loops.threads);
  }

  static HttpDecoderConfig clientDecoder() {
    return new HttpDecoderConfig().setMaxInitialLineLength(REQUEST_HEADER_SIZE).setMaxHeaderSize(REQUEST_HEADER_SIZE);
  }

  static HttpDecoderConfig upstreamDecoder() {
    return new HttpDecoderConfig().setMaxInitialLineLength(RESPONSE_HEADER_SIZE).setMaxHeaderSize(RESPONSE_HEADER_SIZE);
  }

  /** The pool of connections to {@code backend} owned by {@code loop}; called on that loop only. */
  UpstreamPool pool(Backend backend, EventLoop loop) {
    Map<Backend, UpstreamPool> mine = pools.get();
    UpstreamPool p = mine.get(backend);
    if (p == null) {
      if (mine.isEmpty()) {
        loop.scheduleWithFixedDelay(() -> pools.get().values().forEach(UpstreamPool::closeIdle), POOL_SWEEP_MILLIS,
            POOL_SWEEP_MILLIS, TimeUnit.MILLISECONDS);
      }
      p = new UpstreamPool(this, backend, loop);
      mine.put(backend, p);
    }
    return p;
  }
}
