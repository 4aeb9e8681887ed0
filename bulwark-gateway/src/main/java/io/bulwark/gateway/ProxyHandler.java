package io.bulwark.gateway;

import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * The proxy: every client request becomes a {@link ProxyExchange}. Fully asynchronous (body reads
 * are demand-driven, the upstream call is Jetty {@link HttpClient}'s non-blocking API, the response
 * is streamed chunk by chunk), so Jetty may run it on its selector threads without a hand-off.
 */
final class ProxyHandler extends Handler.Abstract.NonBlocking {
  final String gateway;
  final Backends backends;
  final HttpClient client;
  final GatewayMetrics metrics;
  final RequestReadDeadlines deadlines;
  final AccessLog accessLog;
  final long maxBodyBytes;
  final long upstreamTimeoutNanos;

  ProxyHandler(GatewayConfig config, Backends backends, HttpClient client, GatewayMetrics metrics, RequestReadDeadlines deadlines) {
    this.gateway = config.name();
    this.backends = backends;
    this.client = client;
    this.metrics = metrics;
    this.deadlines = deadlines;
    this.accessLog = new AccessLog(config.name());
    this.maxBodyBytes = config.maxBodyBytes();
    this.upstreamTimeoutNanos = config.upstreamTimeout().toNanos();
  }

  @Override
  public boolean handle(Request request, Response response, Callback callback) {
    new ProxyExchange(this, request, response, callback).start();
    return true;
  }
}
