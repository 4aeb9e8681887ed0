package io.bulwark.gateway;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.nio.channels.ClosedChannelException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One client request on its way through the gateway: its body buffered (so it can be sent again),
 * a server picked, the request forwarded on a pooled connection, the answer streamed back; on a
 * failure before the answer started, maybe one retry elsewhere (see {@link RetryPolicy}); counted
 * exactly once in metrics and the access log.
 *
 * <p>Everything here runs on the client connection's event loop, which also owns the upstream
 * connections it uses: no locks, no hand-offs. Buffers from the server's connection are passed
 * to the client's without copying.
 */
final class ProxyExchange implements ChannelFutureListener {
  /** Logged for a client that went away before its answer was complete (nginx's convention). */
  static final int CLIENT_CLOSED = 499;

  private final ClientConnection client;
  private final Proxy proxy;
  private final HttpRequest head;
  /** When the request's turn came (a pipelined request may wait behind earlier ones; its budget starts here). */
  private long start = System.nanoTime();
  private final String method;
  private final String requestId;

  private ByteBuf body;
  /** The most a body's first buffer reserves before its bytes arrive. */
  static final int FIRST_BUFFER_BYTES = 64 * 1024;
  /** The client waits for {@code 100 Continue} before it sends the body; not sent yet. */
  boolean continuePending;
  /** The gateway's own answer, decided while reading the request (bad input); null to proxy it. */
  private Problems.Problem refusal;
  private int retries;
  private int status;
  private boolean keepAlive;
  private Attempt current;
  private ScheduledFuture<?> timeout;
  private boolean clientGone;
  private boolean finished;
  private String servedBy = "-";

  ProxyExchange(ClientConnection client, HttpRequest head) {
    this.client = client;
    this.proxy = client.proxy;
    this.head = head;
    this.method = head.method().name();
    this.requestId = RequestIds.keepOrGenerate(head.headers().get(ForwardedHeaders.X_REQUEST_ID));
    this.keepAlive = HttpUtil.isKeepAlive(head);
  }

  HttpRequest head() {
    return head;
  }

  /** Answer {@code p} instead of proxying, and close the connection after it (the rest of the input cannot be trusted). */
  void refuse(Problems.Problem p) {
    refusal = p;
    keepAlive = false;
  }

  /**
   * Adds a piece of the body; false (and nothing kept) if it would exceed the limit. The buffer grows
   * with the bytes that arrive, never ahead of them by more than {@link #FIRST_BUFFER_BYTES}: a
   * declared Content-Length is a claim, and sizing by it let connections that declared 16 MiB and
   * sent one byte reserve 16 MiB each.
   */
  boolean append(ByteBuf content) {
    int n = content.readableBytes();
    if (n == 0) return true;
    long have = body == null ? 0 : body.readableBytes();
    if (have + n > proxy.maxBodyBytes) return false;
    int before = 0;
    if (body == null) {
      // copied (not retained) so the decoder's read buffer is not pinned for the whole upstream call
      long declared = HttpUtil.getContentLength(head, -1L);
      int first = (int) Math.max(n, Math.min(declared, FIRST_BUFFER_BYTES));
      body = client.alloc().buffer(first, (int) proxy.maxBodyBytes);
    } else {
      before = body.capacity();
    }
    body.writeBytes(content); // grows by Netty's doubling, up to the body limit
    proxy.metrics.bodyBuffer(body.capacity() - before);
    return true;
  }

  /** The request has fully arrived and it is its turn. */
  void start() {
    start = System.nanoTime();
    if (refusal != null) {
      answer(refusal);
      return;
    }
    timeout = client.loop().schedule(this::timedOut, proxy.upstreamTimeoutNanos, TimeUnit.NANOSECONDS);
    Backend backend = proxy.backends.acquire();
    if (backend == null) {
      answer(Problems.noServer());
      return;
    }
    send(backend);
  }

  private void send(Backend backend) {
    Attempt attempt = new Attempt(backend);
    current = attempt;
    proxy.pool(backend, client.loop()).acquire(attempt);
  }

  private FullHttpRequest upstreamRequest(Backend backend) {
    HttpHeaders headers = proxy.trustedHeaders.newHeaders();
    ForwardedHeaders.upstream(head.headers(), client.remoteAddress(), requestId, backend.hostHeader(), proxy.scheme, headers);
    ByteBuf content = body == null ? Unpooled.EMPTY_BUFFER : body.retainedDuplicate();
    if (body != null || expectsBody(head.method())) headers.setInt(ForwardedHeaders.CONTENT_LENGTH, content.readableBytes());
    return new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, head.method(), Uris.originForm(method, head.uri()), content, headers,
        EmptyHttpHeaders.INSTANCE);
  }

  private static boolean expectsBody(HttpMethod m) {
    return m == HttpMethod.POST || m == HttpMethod.PUT || m == HttpMethod.PATCH;
  }

  /** The attempt ended without a complete answer. */
  private void attemptFailed(Attempt attempt, Throwable failure) {
    Backend backend = attempt.backend;
    UpstreamFailure kind = UpstreamFailure.classify(failure, clientGone);
    backend.metrics.error(kind);
    if (kind.marksDown()) {
      backend.markDown((kind == UpstreamFailure.CONNECT ? "could not connect" : "connection broke") + " during "
          + method + " " + Uris.path(head.uri()) + " (" + UpstreamFailure.describe(failure) + ")");
    }
    if (kind == UpstreamFailure.CLIENT) {
      finish(CLIENT_CLOSED);
      return;
    }
    if (attempt.committed) {
      // the answer is partly with the client: all that is left is to cut it off, so it sees a truncated answer
      status = 502;
      keepAlive = false; // and nothing pipelined behind it may go on
      client.abort();
      finish(502);
      return;
    }
    if (attempt.answered) { // the server started answering but nothing has gone out yet: too late to retry, not to say so
      servedBy = backend.name();
      answer(Problems.upstreamBrokeMidResponse(backend.name()));
      return;
    }
    boolean replayable = RetryPolicy.replayable(method, head.headers().contains(RetryPolicy.IDEMPOTENCY_KEY));
    if (RetryPolicy.mayRetry(kind, attempt.sent, replayable, retries)) {
      Backend next = proxy.backends.acquireOther(backend);
      if (next != null) {
        retries++;
        backend.metrics.retries.inc();
        send(next);
        return;
      }
    }
    servedBy = backend.name();
    if (kind == UpstreamFailure.TIMEOUT) {
      answer(Problems.timeout(backend.name(), TimeUnit.NANOSECONDS.toMillis(proxy.upstreamTimeoutNanos)));
    } else if (!attempt.sent) {
      answer(Problems.connectFailed(backend.name()));
    } else {
      answer(Problems.upstreamBroke(backend.name(), retries > 0, replayable));
    }
  }

  private void timedOut() {
    timeout = null;
    if (finished) return;
    Attempt a = current;
    if (a != null && !a.done) {
      a.upstreamFailed(new TimeoutException("no complete answer within " + TimeUnit.NANOSECONDS.toMillis(proxy.upstreamTimeoutNanos) + " ms"));
    } else {
      client.abort(); // the answer is stuck on its way to the client
    }
  }

  /** The client's connection closed: give up, without holding it against the server. */
  void clientGone() {
    clientGone = true;
    Attempt a = current;
    if (a != null && !a.done) a.upstreamFailed(new ClosedChannelException());
    else finish(CLIENT_CLOSED);
  }

  /** The client can take more of the answer again. */
  void clientWritable() {
    Attempt a = current;
    if (a != null && a.conn != null) a.conn.channel.config().setAutoRead(true);
  }

  /** Answers with a gateway problem. */
  private void answer(Problems.Problem p) {
    status = p.status();
    FullHttpResponse r = Problems.response(head.protocolVersion(), p, Uris.path(head.uri()), requestId);
    ForwardedHeaders.keepAlive(r, keepAlive);
    client.write(r, true).addListener(this);
  }

  /** The answer's last write completed, or failed. */
  @Override
  public void operationComplete(ChannelFuture written) {
    if (!written.isSuccess()) {
      clientGone = true;
      finish(CLIENT_CLOSED);
    } else {
      finish(status);
    }
  }

  private void finish(int logged) {
    if (finished) return;
    finished = true;
    if (timeout != null) timeout.cancel(false);
    releaseBody();
    long nanos = System.nanoTime() - start;
    proxy.metrics.request(logged, nanos);
    proxy.accessLog.log(method, Uris.path(head.uri()), logged, servedBy, retries, nanos, requestId);
    client.finished(this, keepAlive && !clientGone && logged != CLIENT_CLOSED);
  }

  /** Drops the request without an answer (its connection closed before it was its turn). */
  void discard() {
    finished = true;
    releaseBody();
  }

  private void releaseBody() {
    if (body != null) {
      proxy.metrics.bodyBuffer(-body.capacity());
      body.release();
      body = null;
    }
  }

  /** One try on one server. */
  final class Attempt {
    final Backend backend;
    UpstreamConnection conn;
    /** The request got a connection and may have reached the server. */
    boolean sent;
    /** The server's response headers arrived. */
    boolean answered;
    /** Some of the answer was written to the client. */
    boolean committed;
    /** Over: the answer is complete on the server's side, or the attempt failed. */
    boolean done;
    private boolean released;
    private boolean informational;
    private boolean upstreamKeepAlive;
    private HttpResponse pendingHead;

    Attempt(Backend backend) {
      this.backend = backend;
    }

    boolean isDone() {
      return done;
    }

    void connected(UpstreamConnection c) {
      if (done) {
        c.pool.release(c, true);
        return;
      }
      conn = c;
      c.attempt = this;
      // "may have been sent" from the moment the write starts: the server may read it even if the write then fails
      sent = true;
      c.channel.writeAndFlush(upstreamRequest(backend), c.channel.voidPromise());
    }

    void connectFailed(Throwable failure) {
      if (done) return;
      done = true;
      releaseBackend();
      attemptFailed(this, failure);
    }

    /** Called for everything the server sends for this request; takes ownership of {@code msg}. */
    void onUpstream(Object msg) {
      if (done) {
        ReferenceCountUtil.release(msg);
        return;
      }
      if (msg instanceof HttpObject o && o.decoderResult().isFailure()) {
        ReferenceCountUtil.release(msg);
        upstreamFailed(o.decoderResult().cause());
        return;
      }
      if (msg instanceof HttpResponse r) onHead(r);
      if (msg instanceof HttpContent c) {
        if (informational) {
          if (c instanceof LastHttpContent) informational = false;
          c.release();
        } else {
          onContent(c);
        }
      } else if (!(msg instanceof HttpResponse)) {
        ReferenceCountUtil.release(msg);
      }
    }

    private void onHead(HttpResponse r) {
      int code = r.status().code();
      if (code >= 100 && code < 200) { // an interim answer (the gateway sends no Expect): wait for the real one
        informational = true;
        return;
      }
      answered = true;
      status = code;
      servedBy = backend.name();
      if (code >= 500) backend.metrics.fivexx.inc();
      upstreamKeepAlive = HttpUtil.isKeepAlive(r);
      HttpVersion version = head.protocolVersion();
      HttpResponse out = new DefaultHttpResponse(version, r.status(), proxy.trustedHeaders.newHeaders());
      HttpHeaders h = out.headers();
      ForwardedHeaders.downstream(r.headers(), h, requestId);
      boolean noBody = head.method() == HttpMethod.HEAD || code == 204 || code == 304;
      if (!noBody && !h.contains(HttpHeaderNames.CONTENT_LENGTH)) {
        if (version == HttpVersion.HTTP_1_1) h.set(ForwardedHeaders.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
        else keepAlive = false; // an HTTP/1.0 client learns where the body ends when the connection closes
      }
      ForwardedHeaders.keepAlive(out, keepAlive);
      pendingHead = out;
    }

    private void onContent(HttpContent c) {
      if (pendingHead != null) {
        client.write(pendingHead, false);
        pendingHead = null;
        committed = true;
      }
      if (c instanceof LastHttpContent) {
        done = true;
        UpstreamConnection uc = conn;
        conn = null;
        uc.channel.config().setAutoRead(true);
        uc.pool.release(uc, upstreamKeepAlive);
        releaseBackend();
        client.write(c, true).addListener(ProxyExchange.this);
      } else {
        client.write(c, false);
        if (!client.writable()) conn.channel.config().setAutoRead(false); // resumed by clientWritable()
      }
    }

    void onUpstreamReadComplete() {
      if (committed) client.flush();
    }

    /** The attempt failed: the connection broke, the request timed out, or the client went away. */
    void upstreamFailed(Throwable failure) {
      if (done) return;
      done = true;
      UpstreamConnection uc = conn;
      if (uc != null) {
        conn = null;
        uc.attempt = null;
        uc.channel.close(); // mid-exchange: never reusable
      }
      releaseBackend();
      attemptFailed(this, failure);
    }

    private void releaseBackend() {
      if (!released) {
        released = true;
        backend.release();
      }
    }
  }
}
