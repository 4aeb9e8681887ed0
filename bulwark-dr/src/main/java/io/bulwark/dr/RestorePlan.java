package io.bulwark.dr;

import io.bulwark.core.blob.BlobStore;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Which WAL files a restore of one backup needs, following the timeline history the way PostgreSQL's
 * {@code recovery_target_timeline = 'latest'} does: the newest timeline descending from the backup's,
 * and on each timeline of that history the segments from where the restore enters it to where it
 * switched to the next (the switch segment comes from the child timeline). All history files are
 * fetched, so that PostgreSQL picks a new timeline id that is really new.
 */
record RestorePlan(long targetTimeline, List<WalArchive.Entry> histories, List<WalArchive.Entry> segments,
    Optional<String> firstMissing) {

  static RestorePlan of(BlobStore store, BackupManifest backup, List<WalArchive.Entry> wal) {
    Map<String, WalArchive.Entry> byName = new HashMap<>();
    for (WalArchive.Entry e : wal) byName.putIfAbsent(e.name(), e);
    List<WalArchive.Entry> histories = wal.stream().filter(WalArchive.Entry::isHistory).toList();
    long target = backup.timeline();
    List<WalArchive.TimelineSwitch> chain = List.of();
    for (WalArchive.Entry h : histories.stream().sorted(Comparator.comparingLong(WalArchive.Entry::timeline).reversed()).toList()) {
      List<WalArchive.TimelineSwitch> switches = WalArchive.parseHistory(WalArchive.readSmall(store, h));
      if (h.timeline() > target && switches.stream().anyMatch(s -> s.tli() == backup.timeline())) {
        target = h.timeline();
        chain = switches;
        break;
      }
    }
    List<WalArchive.Entry> segments = new ArrayList<>();
    Optional<String> missing = Optional.empty();
    long segno = WalArchive.segno(backup.startSegment());
    List<WalArchive.TimelineSwitch> path = chain.stream().filter(s -> s.tli() >= backup.timeline()).toList();
    for (WalArchive.TimelineSwitch s : path) {
      long switchSeg = WalArchive.segno(s.end().segmentName(s.tli()));
      for (; segno < switchSeg; segno++) {
        String name = WalArchive.segmentName(s.tli(), segno);
        WalArchive.Entry e = byName.get(name);
        if (e == null) return new RestorePlan(target, histories, segments, Optional.of(name));
        segments.add(e);
      }
    }
    long tli = target;
    long last = wal.stream().filter(e -> e.isSegment() && e.timeline() == tli).mapToLong(WalArchive.Entry::segno).max().orElse(segno - 1);
    for (; segno <= last; segno++) {
      String name = WalArchive.segmentName(tli, segno);
      WalArchive.Entry e = byName.get(name);
      if (e == null) {
        missing = Optional.of(name);
        break;
      }
      segments.add(e);
    }
    if (missing.isEmpty() && segno <= WalArchive.segno(backup.stopSegment())) {
      missing = Optional.of(WalArchive.segmentName(tli, segno)); // the archive ends before the backup's stop
    }
    return new RestorePlan(target, histories, segments, missing);
  }

  /** Whether the missing segment is one the backup cannot become consistent without. */
  boolean missingBeforeConsistency(BackupManifest backup) {
    return firstMissing.isPresent() && WalArchive.segno(firstMissing.get()) <= WalArchive.segno(backup.stopSegment());
  }
}
