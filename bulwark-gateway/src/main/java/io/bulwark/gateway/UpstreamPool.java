package io.bulwark.gateway;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpClientCodec;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.concurrent.RejectedExecutionException;

/**
 * The kept-alive connections from one event loop to one server. Only that loop touches it. A
 * request takes the most recently used idle connection (warm, and the least likely to be closed
 * by the server), else opens a new one, up to a limit; past it, requests wait in a bounded queue,
 * and past that they fail as {@link UpstreamFailure#OVERLOAD} without being sent.
 */
final class UpstreamPool {
  private final Proxy proxy;
  private final Backend backend;
  private final Bootstrap bootstrap;
  private final ArrayDeque<UpstreamConnection> idle = new ArrayDeque<>();
  private final ArrayDeque<ProxyExchange.Attempt> waiting = new ArrayDeque<>();
  private int open;

  UpstreamPool(Proxy proxy, Backend backend, EventLoop loop) {
    this.proxy = proxy;
    this.backend = backend;
    this.bootstrap = new Bootstrap().group(loop).channel(proxy.loops.channel)
        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, proxy.connectTimeoutMillis)
        .option(ChannelOption.TCP_NODELAY, true)
        .handler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            UpstreamConnection c = new UpstreamConnection(UpstreamPool.this, ch);
            ch.pipeline().addLast(new HttpClientCodec(Proxy.upstreamDecoder(), false, false), c);
            ch.closeFuture().addListener(f -> closed(c));
          }
        });
  }

  /** Gives {@code attempt} a connection, now or when one is free, or fails it. */
  void acquire(ProxyExchange.Attempt attempt) {
    UpstreamConnection c;
    while ((c = idle.pollLast()) != null) {
      if (c.channel.isActive()) {
        attempt.connected(c);
        return;
      }
    }
    if (open < proxy.maxConnectionsPerLoop) {
      connect(attempt);
    } else if (waiting.size() < proxy.maxQueuedPerLoop || waiting.removeIf(ProxyExchange.Attempt::isDone)) {
      waiting.add(attempt);
    } else {
      attempt.connectFailed(new RejectedExecutionException(
          "more than " + proxy.maxQueuedPerLoop + " requests waiting for a connection to " + backend.name()));
    }
  }

  private void connect(ProxyExchange.Attempt attempt) {
    if (backend.address().isUnresolved()) { // never looked up successfully: fail now rather than resolve on the loop
      attempt.connectFailed(new java.net.UnknownHostException(backend.host()));
      return;
    }
    open++;
    ChannelFuture f = bootstrap.connect(backend.address()); // resolved off the loop (Backend.resolve)
    f.addListener(done -> {
      if (done.isSuccess()) attempt.connected(f.channel().pipeline().get(UpstreamConnection.class));
      else attempt.connectFailed(done.cause());
    });
  }

  /** The connection's exchange is over; it is kept if {@code reusable}, else closed. */
  void release(UpstreamConnection c, boolean reusable) {
    c.attempt = null;
    if (!reusable || !c.channel.isActive()) {
      c.channel.close();
      return;
    }
    ProxyExchange.Attempt next;
    while ((next = waiting.poll()) != null) {
      if (!next.isDone()) {
        next.connected(c);
        return;
      }
    }
    c.idleSince = System.nanoTime();
    idle.addLast(c);
  }

  private void closed(UpstreamConnection c) {
    open--;
    idle.remove(c);
    ProxyExchange.Attempt next;
    while (open < proxy.maxConnectionsPerLoop && (next = waiting.poll()) != null) {
      if (!next.isDone()) connect(next);
    }
  }

  /** Closes the connections idle for longer than the pool's idle timeout (oldest first in the deque). */
  void closeIdle() {
    long now = System.nanoTime();
    for (Iterator<UpstreamConnection> it = idle.iterator(); it.hasNext(); ) {
      UpstreamConnection c = it.next();
      if (now - c.idleSince < proxy.poolIdleNanos) break;
      it.remove();
      c.channel.close();
    }
  }
}
