package io.bulwark.cli;

import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Keeps a role's process alive until SIGTERM or Ctrl-C, then runs its graceful stop once. */
final class Roles {
  private static final Logger log = LoggerFactory.getLogger(Roles.class);

  interface Stop {
    void run() throws Exception;
  }

  private Roles() {}

  static int runUntilSignalled(String name, Stop stop) throws InterruptedException {
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().name(name + "-shutdown").unstarted(() -> {
      log.info("[{}] signal received: stopping gracefully", name);
      try {
        stop.run();
      } catch (Exception e) {
        log.warn("[{}] error while stopping: {}", name, e.getMessage());
      }
      stopped.countDown();
    }));
    stopped.await();
    return 0;
  }
}
