package io.bulwark.monitor;

import java.io.IOException;

/**
 * Delivers a notice to one recipient. Throws when it was not delivered (the monitor retries with
 * backoff); returning means the recipient's server took it (SMTP 250, HTTP 2xx).
 */
public interface Notifier extends AutoCloseable {
  void send(MonitorPolicy.Recipient to, Notice notice) throws IOException;

  @Override
  default void close() {}
}
