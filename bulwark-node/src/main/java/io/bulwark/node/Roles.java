package io.bulwark.node;

import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Keeps a role's process alive until SIGTERM or Ctrl-C, then runs its graceful stop once. */
public final class Roles {
  private static final Logger log = LoggerFactory.getLogger(Roles.class);

  public interface Stop {
    void run() throws Exception;
  }

  private Roles() {}

  /** Environment variable naming the supervisor's pid; a role exits when that process is gone. */
  static final String SUPERVISOR_PID = "BULWARK_SUPERVISOR_PID";

  public static int runUntilSignalled(String name, Stop stop) throws InterruptedException {
    CountDownLatch stopped = new CountDownLatch(1);
    watchSupervisor(name);
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

  /**
   * A role started by a supervisor must not outlive it: if the supervisor is SIGKILLed, its children
   * would keep running unsupervised and hold their ports. Checks once a second and, when the
   * supervisor is gone, exits through the normal graceful stop.
   */
  private static void watchSupervisor(String name) {
    String pid = System.getenv(SUPERVISOR_PID);
    if (pid == null || pid.isBlank()) return;
    ProcessHandle supervisor = ProcessHandle.of(Long.parseLong(pid.trim())).orElse(null);
    Thread.ofPlatform().daemon().name(name + "-supervisor-watch").start(() -> {
      while (supervisor != null && supervisor.isAlive()) {
        try {
          Thread.sleep(1000); // liveness poll of the parent process
        } catch (InterruptedException e) {
          return;
        }
      }
      log.warn("[{}] supervisor (pid {}) is gone; stopping", name, pid);
      System.exit(0);
    });
  }
}
