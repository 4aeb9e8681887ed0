package io.bulwark.gateway;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.eclipse.jetty.client.ByteBufferRequestContent;
import org.eclipse.jetty.client.Result;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;

/**
 * One client request on its way through the gateway: buffer the body, pick a server, forward,
 * stream the answer back; on a failure before the answer started, maybe retry once elsewhere (see
 * {@link RetryPolicy}); account for it exactly once in metrics and the access log.
 */
final class ProxyExchange implements BodyBuffer.Listener {
  /** Logged for a client that went away before its answer was complete (nginx's convention). */
  static final int CLIENT_CLOSED = 499;

  private final ProxyHandler proxy;
  private final Request request;
  private final Response response;
  private final Callback callback;
  private final long start = System.nanoTime();
  private final String method;
  private final String requestId;
  private final AtomicBoolean finished = new AtomicBoolean();

  private ByteBuffer body;
  private int retries;
  private volatile Attempt current;
  private volatile boolean clientGone;
  private volatile String servedBy = "-";

  ProxyExchange(ProxyHandler proxy, Request request, Response response, Callback callback) {
    this.proxy = proxy;
    this.request = request;
    this.response = response;
    this.callback = callback;
    this.method = request.getMethod();
    this.requestId = RequestIds.keepOrGenerate(request.getHeaders().get(ForwardedHeaders.X_REQUEST_ID));
  }

  void start() {
    // a client waiting for a slow server (a long poll) is not idle: the upstream timeout bounds the wait
    request.addIdleTimeoutListener(t -> false);
    request.addFailureListener(this::clientFailed);
    long declared = request.getLength();
    if (declared > proxy.maxBodyBytes) {
      fail(Problems.bodyTooLarge(declared, proxy.maxBodyBytes));
    } else if (declared == 0) {
      forward();
    } else {
      BodyBuffer.read(request, proxy.maxBodyBytes, this);
    }
  }

  @Override
  public void onBody(byte[] data, int length) {
    body = ByteBuffer.wrap(data, 0, length);
    forward();
  }

  @Override
  public void onTooLarge() {
    fail(Problems.bodyTooLarge(-1, proxy.maxBodyBytes));
  }

  @Override
  public void onFailure(Throwable failure) {
    if (clientGone) finish(CLIENT_CLOSED, failure);
    else fail(Problems.bodyUnreadable(failure));
  }

  private void forward() {
    proxy.deadlines.received(request);
    Backend backend = proxy.backends.acquire();
    if (backend == null) {
      fail(Problems.noServer());
      return;
    }
    send(backend);
  }

  private void send(Backend backend) {
    Attempt attempt = new Attempt(backend);
    current = attempt;
    long left = Math.max(1, TimeUnit.NANOSECONDS.toMillis(start + proxy.upstreamTimeoutNanos - System.nanoTime()));
    var upstream = proxy.client.newRequest(backend.origin())
        .method(method)
        .path(request.getHttpURI().getPathQuery())
        .headers(h -> ForwardedHeaders.upstream(request, requestId, backend.hostField(), h))
        .timeout(left, TimeUnit.MILLISECONDS)
        .idleTimeout(left, TimeUnit.MILLISECONDS)
        // "may have been sent" from the moment a connection is picked, not when the write is confirmed:
        // Jetty can report the server closing the connection before it reports the commit
        .onRequestBegin(r -> attempt.sent = true);
    if (body != null) upstream.body(new ByteBufferRequestContent((String) null, body.slice()));
    attempt.upstream = upstream;
    if (clientGone) {
      backend.release();
      finish(CLIENT_CLOSED, null);
      return;
    }
    upstream.send(attempt);
  }

  /** The attempt ended without a complete answer. */
  private void attemptFailed(Attempt attempt, Throwable failure) {
    Backend backend = attempt.backend;
    UpstreamFailure kind = UpstreamFailure.classify(failure, clientGone);
    backend.metrics.error(kind);
    if (kind.marksDown()) {
      backend.markDown((kind == UpstreamFailure.CONNECT ? "could not connect" : "connection broke") + " during "
          + method + " " + request.getHttpURI().getPath() + " (" + UpstreamFailure.describe(failure) + ")");
    }
    if (kind == UpstreamFailure.CLIENT) {
      finish(CLIENT_CLOSED, failure);
      return;
    }
    if (attempt.answered) {
      // the server started answering; too late to retry, maybe not too late to say so
      if (!response.isCommitted()) {
        response.reset();
        fail(Problems.upstreamBrokeMidResponse(backend.name()));
      } else {
        finish(502, failure); // Jetty aborts the client connection: the client sees a truncated answer
      }
      return;
    }
    boolean replayable = RetryPolicy.replayable(method, request.getHeaders().contains(RetryPolicy.IDEMPOTENCY_KEY));
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
      fail(Problems.timeout(backend.name(), TimeUnit.NANOSECONDS.toMillis(proxy.upstreamTimeoutNanos)));
    } else if (!attempt.sent) {
      fail(Problems.connectFailed(backend.name()));
    } else {
      fail(Problems.upstreamBroke(backend.name(), retries > 0, replayable));
    }
  }

  private void clientFailed(Throwable failure) {
    clientGone = true;
    Attempt attempt = current;
    if (attempt != null && attempt.upstream != null) attempt.upstream.abort(failure);
  }

  /** Answers with a gateway problem. */
  private void fail(Problems.Problem p) {
    proxy.deadlines.received(request);
    response.getHeaders().put(ForwardedHeaders.X_REQUEST_ID, requestId);
    Problems.send(response, Callback.from(() -> finish(p.status(), null), x -> finish(p.status(), x)), p,
        request.getHttpURI().getPath(), requestId);
  }

  private void finish(int status, Throwable failure) {
    if (!finished.compareAndSet(false, true)) return;
    long nanos = System.nanoTime() - start;
    proxy.metrics.request(status, nanos);
    proxy.accessLog.log(method, request.getHttpURI().getPath(), status, servedBy, retries, nanos, requestId);
    if (failure == null) {
      proxy.deadlines.responded(request);
      callback.succeeded();
    } else {
      callback.failed(failure);
    }
  }

  /** One try on one server. Completes (as a callback) when the last byte of the answer is written to the client. */
  private final class Attempt extends Callback.Completable implements org.eclipse.jetty.client.Response.Listener {
    final Backend backend;
    org.eclipse.jetty.client.Request upstream;
    /** The request got a connection and may have reached the server. */
    volatile boolean sent;
    volatile boolean answered;
    private volatile boolean complete;
    private int status;
    /** Body bytes the server still owes, when it declared a Content-Length; -1 otherwise. */
    private long bodyLeft = -1;
    /** The last body bytes went to the client with the final write: nothing is left to write on success. */
    private volatile boolean lastWritten;

    Attempt(Backend backend) {
      super(InvocationType.NON_BLOCKING);
      this.backend = backend;
    }

    @Override
    public void onBegin(org.eclipse.jetty.client.Response upstreamResponse) {
      answered = true;
    }

    @Override
    public void onHeaders(org.eclipse.jetty.client.Response upstreamResponse) {
      status = upstreamResponse.getStatus();
      servedBy = backend.name();
      if (status >= 500) backend.metrics.fivexx.inc();
      response.setStatus(status);
      ForwardedHeaders.downstream(upstreamResponse.getHeaders(), response.getHeaders(), requestId);
      bodyLeft = HttpMethod.HEAD.is(method) ? -1 : upstreamResponse.getHeaders().getLongField(HttpHeader.CONTENT_LENGTH);
    }

    @Override
    public void onContent(org.eclipse.jetty.client.Response upstreamResponse, Content.Chunk chunk, Runnable demander) {
      int n = chunk.remaining();
      // the chunk that completes a declared length is written as the last one: the client's response
      // ends with this write instead of a second, empty one after the server's response completes
      boolean last = n > 0 && n == bodyLeft;
      if (bodyLeft >= 0) bodyLeft -= n;
      if (last) lastWritten = true;
      chunk.retain();
      response.write(last, chunk.getByteBuffer(), new Callback() {
        @Override
        public void succeeded() {
          chunk.release();
          demander.run();
          if (last) Attempt.this.succeeded();
        }

        @Override
        public void failed(Throwable x) {
          chunk.release();
          clientGone = true; // not the server's fault: don't mark it down
          upstreamResponse.abort(x); // stop reading from the server
          if (last) Attempt.this.failed(x);
        }

        @Override
        public InvocationType getInvocationType() {
          return InvocationType.NON_BLOCKING;
        }
      });
    }

    @Override
    public void onSuccess(org.eclipse.jetty.client.Response upstreamResponse) {
      complete = true;
      if (!lastWritten) response.write(true, BufferUtil.EMPTY_BUFFER, this);
    }

    @Override
    public void onComplete(Result result) {
      backend.release();
      if (complete) {
        whenComplete((ok, writeFailure) -> {
          if (writeFailure == null) finish(status, null);
          else finish(CLIENT_CLOSED, writeFailure);
        });
      } else {
        attemptFailed(this, result.getFailure());
      }
    }
  }
}
