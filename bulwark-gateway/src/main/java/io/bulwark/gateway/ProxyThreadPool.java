package io.bulwark.gateway;

import java.util.List;
import java.util.concurrent.atomic.LongAdder;
import org.eclipse.jetty.io.ManagedSelector;
import org.eclipse.jetty.server.ConnectionMetaData;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * The proxy's thread pool, which keeps one hand-off per request out of it.
 *
 * <p>When a response completes on another thread than the one that called the handler (always, for
 * a proxy: it completes on the upstream client's selector thread), Jetty resumes the client's
 * kept-alive connection by executing the connection itself on the server's pool: a pool thread is
 * woken to read the next request, or more often to find none yet and register read interest. This
 * pool hands such a resumption to the proxy connector's selector thread instead (a queued selector
 * update: no thread is woken while that thread is busy, which under load it is). The handler is
 * non-blocking, so running it there is what Jetty does for a new request anyway.
 *
 * <p>Everything else runs on the pool as usual.
 */
final class ProxyThreadPool extends QueuedThreadPool {
  private volatile ServerConnector connector;
  private volatile ManagedSelector selector;
  private final LongAdder resumedOnSelector = new LongAdder();

  ProxyThreadPool(String name, int maxThreads, int minThreads) {
    super(maxThreads, minThreads);
    setName(name);
    setDaemon(true);
  }

  /**
   * From now on, resumptions of {@code connector}'s connections run on its selector thread. A
   * connector with more than one selector is left alone (a connection's selector is not public).
   */
  void resumeOnSelectorOf(ServerConnector connector) {
    List<ManagedSelector> selectors = List.copyOf(connector.getSelectorManager().getContainedBeans(ManagedSelector.class));
    if (selectors.size() != 1) return;
    this.selector = selectors.get(0);
    this.connector = connector;
  }

  @Override
  public void execute(Runnable job) {
    ManagedSelector s = selector;
    // Jetty's HTTP/1.1 server connection is the Runnable, and its own ConnectionMetaData
    if (s != null && job instanceof ConnectionMetaData meta && meta.getConnector() == connector && s.isRunning()) {
      resumedOnSelector.increment();
      s.submit(ignored -> job.run());
      return;
    }
    super.execute(job);
  }

  /** Connection resumptions handed to the selector thread so far. */
  long resumedOnSelector() {
    return resumedOnSelector.sum();
  }
}
