package io.bulwark.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class AccessLogTest {
  private final Logger logger = (Logger) LoggerFactory.getLogger(AccessLog.LOGGER);
  private final ListAppender<ILoggingEvent> lines = new ListAppender<>();
  private Level before;

  @BeforeEach
  void capture() {
    lines.start();
    logger.addAppender(lines);
    before = logger.getLevel();
    logger.setLevel(Level.INFO);
  }

  @AfterEach
  void release() {
    logger.setLevel(before);
    logger.detachAppender(lines);
  }

  private List<String> messages() {
    synchronized (lines) { // AppenderBase.doAppend holds the appender's lock
      return lines.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
    }
  }

  @Test
  void lines_reach_the_logger_shortly_after_and_in_order() {
    AccessLog log = new AccessLog("gw");
    log.start();
    try {
      for (int i = 0; i < 100; i++) log.log("GET", "/p" + i, 200, "api-main", 0, 1_234_567, "id" + i);
      await().atMost(Duration.ofSeconds(5)).until(() -> messages().size() == 100);
      assertThat(messages().get(0)).isEqualTo("[gw] GET /p0 200 backend=api-main retries=0 ms=1.234 id=id0");
      for (int i = 0; i < 100; i++) assertThat(messages().get(i)).endsWith(" id=id" + i);
      assertThat(log.pending()).isZero();
    } finally {
      log.close();
    }
  }

  @Test
  void close_writes_every_queued_line_and_later_lines_are_written_at_once() {
    AccessLog log = new AccessLog("gw");
    // not started: lines wait in the queue until close
    for (int i = 0; i < 10; i++) log.log("POST", "/v1/tasks", 202, "api-main", 0, 1000, "q" + i);
    assertThat(messages()).isEmpty();
    log.close();
    assertThat(messages()).hasSize(10);
    log.log("GET", "/late", 200, "api-main", 0, 1000, "late");
    assertThat(messages()).hasSize(11).last().asString().endsWith("id=late");
  }

  @Test
  void lines_from_many_threads_are_all_written_once() throws Exception {
    AccessLog log = new AccessLog("gw");
    log.start();
    int threads = 4;
    int each = 2_000;
    CountDownLatch go = new CountDownLatch(1);
    List<Thread> all = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int n = t;
      all.add(Thread.ofPlatform().start(() -> {
        try {
          go.await();
        } catch (InterruptedException e) {
          return;
        }
        for (int i = 0; i < each; i++) log.log("GET", "/t", 200, "api-main", 0, 1000, n + "-" + i);
      }));
    }
    go.countDown();
    for (Thread t : all) t.join();
    log.close();
    assertThat(messages()).hasSize(threads * each).doesNotHaveDuplicates();
  }

  @Test
  void nothing_is_formatted_or_queued_when_the_logger_is_off() {
    logger.setLevel(Level.OFF);
    AccessLog log = new AccessLog("gw");
    log.log("GET", "/x", 200, "api-main", 0, 1000, "off");
    assertThat(log.pending()).isZero();
    log.close();
    assertThat(messages()).isEmpty();
  }
}
