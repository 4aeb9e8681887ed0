package io.bulwark.gateway;

import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The proxy's threads: a few Netty event loops, each running the client connections it accepted
 * and the upstream connections those use, so a proxied request never changes thread. Linux's
 * native epoll transport when it loads (edge-triggered, fewer system calls), Java NIO otherwise.
 */
final class EventLoops implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(EventLoops.class);

  /** One loop per core, at most four: a loop does all of a request's work, so more would only add switches. */
  static final int DEFAULT_THREADS = Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));

  final EventLoopGroup group;
  final Class<? extends ServerChannel> serverChannel;
  final Class<? extends Channel> channel;
  /** {@code epoll} or {@code nio}. */
  final String transport;
  /** How many loops (threads) there are. */
  final int threads;

  EventLoops(String name, int threads) {
    this.threads = threads;
    DefaultThreadFactory factory = new DefaultThreadFactory(name + "-loop", true);
    IoHandlerFactory io;
    if (Epoll.isAvailable()) {
      io = EpollIoHandler.newFactory();
      serverChannel = EpollServerSocketChannel.class;
      channel = EpollSocketChannel.class;
      transport = "epoll";
    } else {
      log.info("[{}] native epoll unavailable ({}); using Java NIO", name, Epoll.unavailabilityCause().toString());
      io = NioIoHandler.newFactory();
      serverChannel = NioServerSocketChannel.class;
      channel = NioSocketChannel.class;
      transport = "nio";
    }
    group = new MultiThreadIoEventLoopGroup(threads, factory, io);
  }

  /** Stops the loops, closing every connection they still hold, and waits up to {@code timeout}. */
  void shutdown(Duration timeout) {
    group.shutdownGracefully(0, timeout.toMillis(), TimeUnit.MILLISECONDS).awaitUninterruptibly(timeout.toMillis() + 1000);
  }

  @Override
  public void close() {
    shutdown(Duration.ofSeconds(1));
  }
}
