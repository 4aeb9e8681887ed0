package io.bulwark.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PostgresBinariesTest {
  @TempDir Path tmp;

  @Test
  void the_version_comes_from_the_binaries_artifact() {
    assertThat(PostgresBinaries.version()).matches("18\\.\\d+\\.\\d+");
    assertThat(PostgresBinaries.majorVersion()).isEqualTo(18);
  }

  @Test
  void concurrent_installs_extract_once_and_keep_modes_and_symlinks() throws Exception {
    Path cache = tmp.resolve("cache");
    Path halfMade = cache.resolve("postgres-" + PostgresBinaries.version());
    Files.createDirectories(halfMade.resolve("bin")); // e.g. left by a hand copy: no marker

    Path a;
    Path b;
    try (var pool = Executors.newFixedThreadPool(2)) {
      var first = CompletableFuture.supplyAsync(() -> PostgresBinaries.install(cache), pool);
      var second = CompletableFuture.supplyAsync(() -> PostgresBinaries.install(cache), pool);
      a = first.join();
      b = second.join();
    }

    assertThat(a).isEqualTo(b).isEqualTo(halfMade);
    assertThat(a.resolve(PostgresBinaries.MARKER)).hasContent(PostgresBinaries.version());
    for (String program : new String[] {"bin/postgres", "bin/initdb", "bin/pg_ctl"}) {
      assertThat(Files.isExecutable(a.resolve(program))).as(program).isTrue();
    }
    assertThat(a.resolve("share/postgresql/postgres.bki")).isRegularFile();
    Path libpq = a.resolve("lib/libpq.so");
    assertThat(Files.isSymbolicLink(libpq)).isTrue();
    assertThat(Files.readSymbolicLink(libpq).isAbsolute()).isFalse();
    assertThat(libpq).exists();
    try (Stream<Path> leftovers = Files.list(cache)) {
      assertThat(leftovers).containsExactly(a);
    }

    // reused: the same directory, nothing extracted again
    long before = Files.getLastModifiedTime(a.resolve("bin/postgres"), LinkOption.NOFOLLOW_LINKS).toMillis();
    assertThat(PostgresBinaries.install(cache)).isEqualTo(a);
    assertThat(Files.getLastModifiedTime(a.resolve("bin/postgres")).toMillis()).isEqualTo(before);
  }

  @Test
  void the_default_cache_dir_honours_bulwark_then_xdg_then_home() {
    assertThat(PostgresBinaries.defaultCacheDir(Map.of("BULWARK_CACHE_DIR", "/srv/cache", "XDG_CACHE_HOME", "/x"), "/home/u"))
        .isEqualTo(Path.of("/srv/cache"));
    assertThat(PostgresBinaries.defaultCacheDir(Map.of("XDG_CACHE_HOME", "/x"), "/home/u"))
        .isEqualTo(Path.of("/x/bulwark"));
    assertThat(PostgresBinaries.defaultCacheDir(Map.of("XDG_CACHE_HOME", "relative"), "/home/u"))
        .isEqualTo(Path.of("/home/u/.cache/bulwark"));
    assertThat(PostgresBinaries.defaultCacheDir(Map.of(), "/home/u")).isEqualTo(Path.of("/home/u/.cache/bulwark"));
  }
}
