package io.bulwark.gateway;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import java.io.EOFException;

/**
 * One kept-alive HTTP/1.1 connection to a server, owned by a {@link UpstreamPool} (and so by one
 * event loop). While it carries a request it passes what the server sends to that request's
 * {@link ProxyExchange.Attempt}; idle, it sits in the pool.
 */
final class UpstreamConnection extends ChannelInboundHandlerAdapter {
  final UpstreamPool pool;
  final Channel channel;
  /** The attempt this connection carries now; null while idle in the pool. */
  ProxyExchange.Attempt attempt;
  /** When it went back to the pool. */
  long idleSince;

  UpstreamConnection(UpstreamPool pool, Channel channel) {
    this.pool = pool;
    this.channel = channel;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    ProxyExchange.Attempt a = attempt;
    if (a == null) { // nothing was asked: a server talking out of turn cannot be trusted with the next request
      ReferenceCountUtil.release(msg);
      ctx.close();
      return;
    }
    a.onUpstream(msg);
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    ProxyExchange.Attempt a = attempt;
    if (a != null) a.onUpstreamReadComplete();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    ProxyExchange.Attempt a = attempt;
    if (a != null) a.upstreamFailed(new EOFException("connection closed by the server"));
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    ProxyExchange.Attempt a = attempt;
    ctx.close();
    if (a != null) a.upstreamFailed(cause);
  }
}
