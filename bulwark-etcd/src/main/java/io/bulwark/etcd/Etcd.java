package io.bulwark.etcd;

import io.etcd.jetcd.Client;
import java.time.Duration;
import java.util.List;

/** How Bulwark connects to etcd: every endpoint (the client fails over between members), bounded waits. */
final class Etcd {
  private Etcd() {}

  static Client client(List<String> endpoints, Duration timeout) {
    if (endpoints.isEmpty()) throw new IllegalArgumentException("no etcd endpoint given; name at least one (http://host:2379)");
    return Client.builder().endpoints(endpoints.toArray(String[]::new))
        .connectTimeout(timeout)
        .keepaliveTime(Duration.ofSeconds(2))
        .keepaliveTimeout(timeout)
        .waitForReady(false) // fail fast when no member answers: the caller decides what no answer means
        .build();
  }
}
