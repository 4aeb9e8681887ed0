package io.bulwark.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class EmbeddedPostgresBuilderTest {
  @TempDir Path tmp;

  private EmbeddedPostgres.Builder valid() {
    return EmbeddedPostgres.builder().dataDir(tmp.resolve("data")).password("pw");
  }

  @Test
  void a_missing_data_directory_is_reported() {
    assertThatThrownBy(() -> EmbeddedPostgres.builder().password("pw").build())
        .isInstanceOf(EmbeddedPostgresException.class)
        .hasMessageContaining("dataDir is required");
  }

  @ParameterizedTest
  @CsvSource({"-1", "65536", "70000"})
  void a_port_out_of_range_is_reported_with_the_value(int port) {
    assertThatThrownBy(() -> valid().port(port).build())
        .isInstanceOf(EmbeddedPostgresException.class)
        .hasMessage("port must be between 1 and 65535, or 0 to pick a free port on 127.0.0.1; was " + port);
  }

  @Test
  void an_empty_or_missing_password_is_reported() {
    assertThatThrownBy(() -> valid().password("").build())
        .isInstanceOf(EmbeddedPostgresException.class)
        .hasMessageContaining("password must not be empty")
        .hasMessageContaining("scram-sha-256");
    assertThatThrownBy(() -> valid().password(null).build()).hasMessageContaining("password must not be empty");
    assertThatThrownBy(() -> valid().password("two\nlines").build()).hasMessageContaining("single line");
  }

  @Test
  void an_invalid_user_name_is_reported() {
    assertThatThrownBy(() -> valid().user("Robert'); DROP").build())
        .isInstanceOf(EmbeddedPostgresException.class)
        .hasMessageContaining("user must be 1 to 63 characters")
        .hasMessageContaining("'Robert'); DROP'");
  }

  @Test
  void non_positive_timeouts_and_a_log_file_inside_the_data_directory_are_reported() {
    assertThatThrownBy(() -> valid().startTimeout(Duration.ZERO).build())
        .hasMessage("startTimeout must be a positive duration, was PT0S");
    assertThatThrownBy(() -> valid().stopTimeout(Duration.ofSeconds(-1)).build())
        .hasMessage("stopTimeout must be a positive duration, was PT-1S");
    assertThatThrownBy(() -> valid().logFile(tmp.resolve("data/pg.log")).build())
        .hasMessageContaining("logFile must be outside dataDir");
  }

  @Test
  void binaries_without_postgres_are_reported() {
    assertThatThrownBy(() -> valid().binariesDir(tmp).build())
        .isInstanceOf(EmbeddedPostgresException.class)
        .hasMessageContaining("binariesDir " + tmp + " has no executable bin/postgres");
  }

  @ParameterizedTest
  @CsvSource({
    "fsync, off, fsync='off' is refused",
    "FSYNC, false, fsync='false' is refused",
    "fsync, 0, fsync='0' is refused",
    "fsync, of, fsync='of' is refused",
    "synchronous_commit, off, synchronous_commit='off' is refused",
    "synchronous_commit, No, synchronous_commit='No' is refused",
    "full_page_writes, off, full_page_writes='off' is refused",
    "full_page_writes, nonsense, full_page_writes='nonsense' is refused",
  })
  void settings_that_lose_acknowledged_data_are_refused(String name, String value, String message) {
    assertThatThrownBy(() -> valid().setting(name, value))
        .isInstanceOf(EmbeddedPostgresException.class)
        .hasMessageStartingWith(message)
        .hasMessageMatching("(?s).*(loses|losing) .*");
  }

  @Test
  void settings_the_launcher_owns_or_that_would_break_it_are_refused() {
    assertThatThrownBy(() -> valid().setting("port", "5432")).hasMessageContaining("port(int)");
    assertThatThrownBy(() -> valid().setting("data_directory", "/x")).hasMessageContaining("managed by the launcher");
    assertThatThrownBy(() -> valid().setting("listen_addresses", "10.0.0.5"))
        .hasMessageContaining("must include 127.0.0.1");
    assertThatThrownBy(() -> valid().setting("bad name", "1")).hasMessageContaining("not a PostgreSQL parameter name");
    assertThatThrownBy(() -> valid().setting("work_mem", "1MB\nfsync = off")).hasMessageContaining("single line");
  }

  @Test
  void user_settings_override_the_defaults_and_durable_values_go_on_the_command_line() {
    EmbeddedPostgres pg =
        valid()
            .setting("shared_buffers", "128MB")
            .setting("synchronous_commit", "local")
            .setting("fsync", "on")
            .setting("listen_addresses", "127.0.0.1, 10.0.0.5")
            .setting("application_name", "it's")
            .build();

    assertThat(pg.settings())
        .containsEntry("shared_buffers", "128MB")
        .containsEntry("max_connections", "200")
        .containsEntry("full_page_writes", "on");
    assertThat(pg.confText())
        .contains("shared_buffers = '128MB'\n")
        .doesNotContain("256MB")
        .contains("unix_socket_directories = ''\n")
        .contains("log_line_prefix = '%m [%p] '\n")
        .contains("application_name = 'it''s'\n");
    assertThat(pg.serverCommand())
        .containsSubsequence("-c", "fsync=on", "-c", "synchronous_commit=local", "-c", "full_page_writes=on");
  }

  @Test
  void port_zero_picks_a_free_loopback_port_and_the_log_file_defaults_to_a_sibling() throws Exception {
    EmbeddedPostgres pg = valid().build();

    assertThat(pg.port()).isBetween(1, 65535);
    try (ServerSocket s = new ServerSocket(pg.port(), 1, InetAddress.getByName("127.0.0.1"))) {
      assertThat(s.isBound()).isTrue();
    }
    assertThat(pg.jdbcUrl("app")).isEqualTo("jdbc:postgresql://127.0.0.1:" + pg.port() + "/app");
    assertThat(pg.logFile()).isEqualTo(tmp.resolve("data.log"));
    assertThat(pg.user()).isEqualTo("bulwark");
    assertThat(pg).hasToString("embedded-postgres[" + tmp.resolve("data") + ":" + pg.port() + "]");
    assertThat(pg.isInitialized()).isFalse();
    assertThatThrownBy(pg::pid).isInstanceOf(IllegalStateException.class).hasMessageContaining("is not running");
    pg.stop(); // not started: no-op
  }
}
