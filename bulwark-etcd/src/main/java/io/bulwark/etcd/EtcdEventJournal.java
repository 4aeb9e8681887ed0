package io.bulwark.etcd;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.bulwark.cluster.events.Event;
import io.bulwark.cluster.events.EventJournal;
import io.bulwark.cluster.events.EventJournalException;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The event journal of a cluster, in etcd: every node appends, any node reads the whole cluster's
 * history in one order (etcd's revisions), and what a host saw survives the host. One key per event
 * under {@code prefix}; the cursor of {@link #read} is the last revision read.
 *
 * <p>Bounded by time: events are attached to an etcd lease per hour of appending whose ttl is the
 * retention (default 7 days), so etcd deletes them by itself.
 *
 * <p>Appending never waits for etcd: the event goes to a bounded backlog in memory (the newest {@value
 * #BACKLOG}) that a background thread writes, in order, as soon as etcd answers and then every second
 * while it does not (a partition, quorum lost), so a supervisor restarting a crashed component is
 * never held up by etcd, and a partitioned node's account of the partition is written when it heals.
 */
public final class EtcdEventJournal implements EventJournal {
  private static final Logger log = LoggerFactory.getLogger(EtcdEventJournal.class);
  static final int BACKLOG = 1000;
  public static final Duration DEFAULT_RETENTION = Duration.ofDays(7);
  private static final ObjectMapper JSON = new ObjectMapper().registerModule(new JavaTimeModule())
      .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS);

  private final Client client;
  private final boolean ownsClient;
  private final String prefix;
  private final Duration timeout;
  private final Duration retention;
  /** An event and the key it is written under, chosen once: a retried write of it is idempotent. */
  private record Pending(String key, Event event) {}

  private final Deque<Pending> backlog = new ArrayDeque<>(); // guarded by this
  private long bucketHour = -1; // guarded by this
  private long bucketLease;
  private String lastFailure;
  private final Thread flusher;
  private volatile boolean closed;

  public static EtcdEventJournal connect(List<String> endpoints, String prefix, Duration timeout) {
    return new EtcdEventJournal(Etcd.client(endpoints, timeout), true, prefix, timeout, DEFAULT_RETENTION);
  }

  public EtcdEventJournal(Client client, String prefix, Duration timeout, Duration retention) {
    this(client, false, prefix, timeout, retention);
  }

  private EtcdEventJournal(Client client, boolean ownsClient, String prefix, Duration timeout, Duration retention) {
    this.client = client;
    this.ownsClient = ownsClient;
    this.prefix = prefix.endsWith("/") ? prefix : prefix + "/";
    this.timeout = timeout;
    this.retention = retention;
    this.flusher = Thread.ofPlatform().daemon().name("etcd-event-journal").start(this::flushLoop);
  }

  private void flushLoop() {
    while (!closed) {
      flush();
      synchronized (backlog) {
        try {
          if (!closed) backlog.wait(1000); // woken by append; else retry a failed write every second
        } catch (InterruptedException e) {
          return;
        }
      }
    }
  }

  @Override
  public void append(Event event) {
    synchronized (backlog) {
      // UUIDs keep two nodes' keys apart; the order is etcd's (create revision), not the keys'. The key is
      // fixed now: a write that timed out may still have been applied, and writing it again under the same
      // key updates the one event instead of recording it twice.
      backlog.addLast(new Pending(prefix + UUID.randomUUID(), event));
      while (backlog.size() > BACKLOG) backlog.removeFirst();
      backlog.notifyAll();
    }
  }

  /** Writes what the backlog holds, oldest first; true when it is empty afterwards. Never throws. */
  public synchronized boolean flush() {
    try {
      while (true) {
        Pending next;
        synchronized (backlog) {
          next = backlog.peekFirst();
        }
        if (next == null) break;
        put(next);
        synchronized (backlog) {
          if (backlog.peekFirst() == next) backlog.removeFirst();
        }
      }
      if (lastFailure != null) log.info("event journal: etcd reachable again; backlog written");
      lastFailure = null;
      return true;
    } catch (Exception e) {
      String why = e.getClass().getSimpleName() + ": " + e.getMessage();
      if (!why.equals(lastFailure)) {
        log.warn("event journal: cannot write to etcd ({}); keeping {} event(s) to write later", why, backlog.size());
      }
      lastFailure = why;
      bucketHour = -1; // the bucket's lease may be what failed (expired, revoked): take a new one next time
      if (e instanceof InterruptedException) Thread.currentThread().interrupt();
      return false;
    }
  }

  private void put(Pending p) throws Exception {
    long hour = p.event().at().getEpochSecond() / 3600;
    if (hour != bucketHour) {
      bucketLease = Etcd.await("grant the events' lease", client.getLeaseClient().grant(retention.plusHours(1).toSeconds()), timeout).getID();
      bucketHour = hour;
    }
    Etcd.await("record an event", client.getKVClient().put(EtcdLeaseStore.bytes(p.key()), ByteSequence.from(JSON.writeValueAsBytes(p.event())),
        PutOption.builder().withLeaseId(bucketLease).build()), timeout);
  }

  @Override
  public Page read(long cursor, int limit) {
    if (limit < 1) throw new IllegalArgumentException("limit must be at least 1, got " + limit);
    GetOption options = GetOption.builder().isPrefix(true).withMinCreateRevision(cursor + 1)
        .withSortField(GetOption.SortTarget.CREATE).withSortOrder(GetOption.SortOrder.ASCEND)
        .withLimit(Math.min(limit, 10_000)).build();
    GetResponse r;
    try {
      r = client.getKVClient().get(EtcdLeaseStore.bytes(prefix), options).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      if (e instanceof InterruptedException) Thread.currentThread().interrupt();
      throw new EventJournalException("cannot read the event journal from etcd (" + e.getMessage() + ")", e);
    }
    List<Event> events = new ArrayList<>();
    long last = cursor;
    for (KeyValue kv : r.getKvs()) {
      last = Math.max(last, kv.getCreateRevision());
      try {
        events.add(JSON.readValue(kv.getValue().getBytes(), Event.class));
      } catch (IOException e) {
        log.warn("event journal: skipping {} (not an event: {})", EtcdLeaseStore.string(kv.getKey()), e.getMessage());
      }
    }
    return new Page(events, last);
  }

  /** Events not yet written (etcd unreachable since they were appended). */
  public int backlog() {
    synchronized (backlog) {
      return backlog.size();
    }
  }

  /** Stops the writer after one last attempt to write the backlog. */
  @Override
  public void close() {
    closed = true;
    synchronized (backlog) {
      backlog.notifyAll();
    }
    try {
      flusher.join(timeout.toMillis() * 3);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    flush();
    if (ownsClient) client.close();
  }
}
