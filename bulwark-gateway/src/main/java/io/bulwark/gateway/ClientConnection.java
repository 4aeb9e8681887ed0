package io.bulwark.gateway;

import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client's connection to the gateway (after Netty's HTTP/1.1 codec). Requests are read in full
 * (the body buffered, up to the limit), then proxied one at a time in arrival order: a client may
 * pipeline, and its answers go back in the order it asked. Bad input (a malformed request, headers
 * or a body over the limits, an ambiguous target) is answered here with a problem and the
 * connection closed; it never reaches a server.
 */
final class ClientConnection extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(ClientConnection.class);
  /** How long a refused client may go on sending (discarded) after its answer, before the connection closes. */
  static final long LINGER_MILLIS = 2_000;

  final Proxy proxy;
  private Channel channel;
  private String remoteAddress = "-";
  /** The request whose headers arrived and whose body is arriving. */
  private ProxyExchange reading;
  /** The request being proxied now. */
  private ProxyExchange active;
  /** Complete requests waiting for their turn (pipelining). */
  private final ArrayDeque<ProxyExchange> waiting = new ArrayDeque<>(2);
  /** A request was refused: ignore the rest of the input, close after the refusal is written. */
  private boolean refused;
  /** This connection holds a place in the connection budget (to give back when it closes). */
  private boolean admitted;
  /** Reading is paused: the client's address is over its byte rate. */
  private boolean throttled;
  /** Read-deadline clock: when the gateway started waiting for a complete request; OFF while one is proxied. */
  volatile long clock = RequestReadDeadlines.OFF;
  /** Since when the client has not taken what the gateway wrote (its buffer is full); OFF otherwise. */
  volatile long unwritableSince = RequestReadDeadlines.OFF;

  ClientConnection(Proxy proxy) {
    this.proxy = proxy;
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    channel = ctx.channel();
    SocketAddress a = channel.remoteAddress();
    if (a instanceof InetSocketAddress ia) remoteAddress = ia.getAddress() != null ? ia.getAddress().getHostAddress() : ia.getHostString();
    clock = RequestReadDeadlines.now();
    proxy.deadlines.opened(this);
    admitted = proxy.connections.admit(remoteAddress);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    try {
      if (refused) return;
      if (msg instanceof HttpRequest r) onHead(r);
      if (msg instanceof HttpContent c) onContent(c);
    } finally {
      ReferenceCountUtil.release(msg);
    }
  }

  private void onHead(HttpRequest r) {
    ProxyExchange x = new ProxyExchange(this, r);
    reading = x;
    if (!admitted) {
      refuse(x, Problems.tooManyConnections(proxy.connections.limits()));
      return;
    }
    if (r.decoderResult().isFailure()) {
      refuse(x, problemFor(r.decoderResult().cause()));
      return;
    }
    HttpVersion version = r.protocolVersion();
    if (version.majorVersion() != 1 || version.minorVersion() > 1) {
      refuse(x, ProblemErrorHandler.problemFor(505, "the gateway speaks HTTP/1.0 and HTTP/1.1, not " + version.text()));
      return;
    }
    if (version.minorVersion() == 1 && r.headers().getAll(HttpHeaderNames.HOST).size() != 1) {
      refuse(x, new Problems.Problem(400, "malformed-request", "Malformed request", "an HTTP/1.1 request needs exactly one Host header"));
      return;
    }
    if (r.method() == HttpMethod.CONNECT) {
      refuse(x, new Problems.Problem(405, "method-not-allowed", "Method not allowed", "the gateway is not a forward proxy"));
      return;
    }
    String violation = Uris.violation(r.method().name(), r.uri());
    if (violation != null) {
      refuse(x, new Problems.Problem(400, "malformed-request", "Malformed request", violation));
      return;
    }
    long declared = HttpUtil.getContentLength(r, -1L);
    if (declared > proxy.maxBodyBytes) {
      refuse(x, Problems.bodyTooLarge(declared, proxy.maxBodyBytes)); // without reading it
      return;
    }
    if (version.minorVersion() == 1 && r.headers().contains(HttpHeaderNames.EXPECT)) { // HTTP/1.0 has no Expect (RFC 9110 10.1.1)
      if (!HttpUtil.is100ContinueExpected(r)) {
        refuse(x, new Problems.Problem(417, "expectation-failed", "Expectation failed", "only Expect: 100-continue is supported"));
        return;
      }
      // the body is wanted: say so now, or when the answers before it are out (a 100 must not land inside one)
      x.continuePending = true;
      if (active == null && waiting.isEmpty()) sendContinue(x);
    }
  }

  private void sendContinue(ProxyExchange x) {
    x.continuePending = false;
    channel.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE), channel.voidPromise());
  }

  private void onContent(HttpContent c) {
    ProxyExchange x = reading;
    if (x == null) return;
    if (c.decoderResult().isFailure()) {
      refuse(x, problemFor(c.decoderResult().cause()));
      return;
    }
    int bytes = c.content().readableBytes(); // before append, which reads them
    if (!x.append(c.content())) {
      refuse(x, Problems.bodyTooLarge(-1, proxy.maxBodyBytes));
      return;
    }
    long pause = proxy.connections.read(remoteAddress, bytes);
    if (pause > 0 && !throttled) {
      throttled = true;
      proxy.metrics.clientThrottled();
      updateAutoRead();
      channel.eventLoop().schedule(() -> {
        throttled = false;
        updateAutoRead();
      }, pause, TimeUnit.NANOSECONDS);
    }
    if (c instanceof LastHttpContent) {
      reading = null;
      clock = RequestReadDeadlines.OFF;
      enqueue(x);
    }
  }

  /** Answers {@code x} with {@code p} (in its turn) and closes the connection after it. */
  private void refuse(ProxyExchange x, Problems.Problem p) {
    refused = true;
    reading = null;
    x.refuse(p);
    enqueue(x);
  }

  private void enqueue(ProxyExchange x) {
    if (active == null) {
      active = x;
      x.start();
    } else {
      waiting.add(x);
      updateAutoRead();
    }
  }

  /** Reads while the pipeline has room and the client is within its byte rate (a refused one's lingering close reads on). */
  private void updateAutoRead() {
    if (refused) return;
    channel.config().setAutoRead(!throttled && waiting.size() < Proxy.MAX_PIPELINED);
  }

  /** {@code x} is answered (or given up on); the next request may go. */
  void finished(ProxyExchange x, boolean keepAlive) {
    if (active != x) return;
    active = null;
    if (!keepAlive || !channel.isActive()) {
      if (refused && channel instanceof DuplexChannel d && channel.isActive()) {
        // a lingering close: the client may still be sending what the gateway refused, and closing with
        // unread input would reset the connection, maybe before the client has read the answer
        channel.config().setAutoRead(true);
        d.shutdownOutput().addListener(f -> channel.eventLoop().schedule(() -> channel.close(), LINGER_MILLIS, TimeUnit.MILLISECONDS));
      } else {
        channel.close();
      }
      return;
    }
    ProxyExchange next = waiting.poll();
    if (next != null) {
      updateAutoRead();
      active = next;
      next.start();
    } else {
      clock = RequestReadDeadlines.now(); // the next request must arrive in time
      if (reading != null && reading.continuePending) sendContinue(reading);
    }
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    if (channel.isWritable()) {
      unwritableSince = RequestReadDeadlines.OFF;
      if (active != null) active.clientWritable();
    } else {
      unwritableSince = RequestReadDeadlines.now();
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    proxy.deadlines.closed(this);
    if (admitted) proxy.connections.release(remoteAddress);
    admitted = false;
    if (reading != null) {
      reading.discard();
      reading = null;
    }
    for (ProxyExchange x; (x = waiting.poll()) != null; ) x.discard();
    ProxyExchange x = active;
    if (x != null) x.clientGone();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (!(cause instanceof IOException) && log.isDebugEnabled()) log.debug("[{}] client connection {} failed", proxy.gateway, remoteAddress, cause);
    ctx.close();
  }

  // ------------------------------------------------------------------ for the exchange

  /** Writes to the client, flushing if {@code flush}; the future fails if the client has gone. */
  ChannelFuture write(Object msg, boolean flush) {
    return flush ? channel.writeAndFlush(msg) : channel.write(msg);
  }

  void flush() {
    channel.flush();
  }

  boolean writable() {
    return channel.isWritable();
  }

  /** Closes the connection now, cutting off whatever is in progress. */
  void abort() {
    channel.close();
  }

  EventLoop loop() {
    return channel.eventLoop();
  }

  ByteBufAllocator alloc() {
    return channel.alloc();
  }

  String remoteAddress() {
    return remoteAddress;
  }

  /** The problem for a request Netty's decoder could not read. */
  static Problems.Problem problemFor(Throwable cause) {
    if (cause instanceof TooLongHttpHeaderException) return ProblemErrorHandler.problemFor(431, null);
    if (cause instanceof TooLongHttpLineException) return ProblemErrorHandler.problemFor(414, null);
    if (cause instanceof TooLongFrameException) return ProblemErrorHandler.problemFor(400, "the request is larger than the gateway accepts");
    String why = cause == null || cause.getMessage() == null ? "the request could not be parsed" : cause.getMessage();
    return ProblemErrorHandler.problemFor(400, "malformed request: " + why);
  }
}
