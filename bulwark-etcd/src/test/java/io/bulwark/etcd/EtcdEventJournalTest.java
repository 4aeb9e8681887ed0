package io.bulwark.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.bulwark.cluster.events.Event;
import io.bulwark.cluster.events.EventJournal;
import io.bulwark.testkit.EtcdCluster;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The cluster's event journal on a real three-member etcd. */
class EtcdEventJournalTest {
  static EtcdCluster etcd;

  @BeforeAll
  static void startEtcd() {
    etcd = EtcdCluster.start(3);
  }

  @AfterAll
  static void stopEtcd() {
    if (etcd != null) etcd.close();
  }

  static Event event(String node, int i) {
    return new Event(Instant.parse("2026-12-01T10:00:00Z").plusSeconds(i), node, "test", "test.kind", node + " " + i);
  }

  static String namespace() {
    return "/bulwark-test/" + UUID.randomUUID() + "/events";
  }

  @Test
  void two_nodes_append_and_either_reads_the_whole_history_in_one_order_from_its_cursor() {
    String ns = namespace();
    try (EtcdEventJournal a = EtcdEventJournal.connect(etcd.endpoints(), ns, Duration.ofSeconds(2));
        EtcdEventJournal b = EtcdEventJournal.connect(List.of(etcd.endpoints().get(2)), ns, Duration.ofSeconds(2))) {
      for (int i = 0; i < 5; i++) { // each written before the next is appended: the order etcd records is this one
        a.append(event("node-a", i));
        assertThat(a.flush()).isTrue();
        b.append(event("node-b", i));
        assertThat(b.flush()).isTrue();
      }
      List<Event> expected = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        expected.add(event("node-a", i));
        expected.add(event("node-b", i));
      }
      EventJournal.Page first = b.read(EventJournal.Page.START, 4);
      assertThat(first.events()).containsExactlyElementsOf(expected.subList(0, 4));
      EventJournal.Page rest = a.read(first.cursor(), 100);
      assertThat(rest.events()).containsExactlyElementsOf(expected.subList(4, 10));
      assertThat(a.read(rest.cursor(), 100).events()).isEmpty();
    }
  }

  @Test
  void events_appended_without_quorum_are_kept_and_written_once_quorum_is_back() {
    String ns = namespace();
    try (EtcdEventJournal journal = EtcdEventJournal.connect(etcd.endpoints(), ns, Duration.ofSeconds(1))) {
      journal.append(event("node-a", 0));
      assertThat(journal.flush()).isTrue();
      EtcdCluster.Member m1 = etcd.members().get(0);
      EtcdCluster.Member m2 = etcd.members().get(1);
      etcd.kill(m1);
      etcd.kill(m2);
      try {
        long began = System.nanoTime();
        journal.append(event("node-a", 1)); // never throws, never waits: the action it records must not be held up
        journal.append(event("node-a", 2));
        assertThat(Duration.ofNanos(System.nanoTime() - began)).isLessThan(Duration.ofMillis(100));
        assertThat(journal.flush()).as("no quorum: nothing can be written").isFalse();
        assertThat(journal.backlog()).isEqualTo(2);
      } finally {
        etcd.restart(m1);
        etcd.restart(m2);
      }
      // written by the journal's own thread once quorum is back, without another append
      await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(200)).until(() -> journal.backlog() == 0);
      journal.append(event("node-a", 3));
      assertThat(journal.flush()).isTrue();
      assertThat(journal.read(EventJournal.Page.START, 100).events())
          .containsExactly(event("node-a", 0), event("node-a", 1), event("node-a", 2), event("node-a", 3));
    }
  }
}
