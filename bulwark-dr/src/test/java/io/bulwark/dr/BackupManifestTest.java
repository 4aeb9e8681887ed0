package io.bulwark.dr;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class BackupManifestTest {
  static BackupManifest manifest(List<String> directories, String filePath) {
    return new BackupManifest(BackupManifest.VERSION, "20261201T000000Z", 1, "0/1000000", "0/2000000",
        "000000010000000000000001", "000000010000000000000002", Instant.EPOCH, Instant.EPOCH, 10, 5, directories,
        List.of(new BackupManifest.FileEntry(filePath, 10, "aa", "backups/x/1", 5, "bb")));
  }

  @Test
  void a_manifest_round_trips_through_its_json() {
    BackupManifest m = manifest(List.of("base", "pg_wal/archive_status"), "base/1/1234");
    assertThat(BackupManifest.fromJson(m.toJson(), "manifests/m.json")).isEqualTo(m);
  }

  @ParameterizedTest
  @ValueSource(strings = {"../../etc/cron.d/x", "/etc/passwd", "base/../../outside", "", "base\\\\..\\\\x", "./base/1"})
  void a_manifest_whose_paths_leave_the_restore_target_is_refused(String path) {
    // regression: a restore followed the manifest's paths without checking they stay inside the target
    assertThatThrownBy(() -> BackupManifest.fromJson(manifest(List.of("base"), path).toJson(), "manifests/evil.json"))
        .isInstanceOf(DrException.class).hasMessageContaining("manifests/evil.json").hasMessageContaining("leaves the restore target");
    assertThatThrownBy(() -> BackupManifest.fromJson(manifest(List.of(path), "base/1").toJson(), "manifests/evil.json"))
        .isInstanceOf(DrException.class).hasMessageContaining("leaves the restore target");
  }
}
