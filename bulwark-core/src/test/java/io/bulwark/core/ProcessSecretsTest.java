package io.bulwark.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ProcessSecretsTest {

  @Test
  void the_secret_variables_leave_the_environment_and_the_child_is_told_to_read_them_from_stdin() {
    Map<String, String> env = new HashMap<>(Map.of("PATH", "/usr/bin", ProcessSecrets.DB_PASSWORD, "pw",
        ProcessSecrets.AZURE_CONNECTION_STRING_PREFIX + "EAST", "AccountKey=k;x=y", ProcessSecrets.ON_STDIN, "1"));
    Map<String, String> secrets = ProcessSecrets.takeFrom(env);
    assertThat(secrets).containsOnlyKeys(ProcessSecrets.DB_PASSWORD, ProcessSecrets.AZURE_CONNECTION_STRING_PREFIX + "EAST");
    assertThat(env).containsOnlyKeys("PATH", ProcessSecrets.ON_STDIN);
  }

  @Test
  void a_child_given_no_secrets_is_not_told_to_wait_for_them_even_if_it_inherited_the_flag() {
    Map<String, String> env = new HashMap<>(Map.of("PATH", "/usr/bin", ProcessSecrets.ON_STDIN, "1"));
    assertThat(ProcessSecrets.takeFrom(env)).isEmpty();
    assertThat(env).containsOnlyKeys("PATH");
  }

  @Test
  void values_with_any_characters_survive_the_trip() {
    Map<String, String> secrets = Map.of("A", "p=ss\nword é", "B", "");
    assertThat(ProcessSecrets.decode(ProcessSecrets.encode(secrets))).isEqualTo(secrets);
  }

  @Test
  void input_a_supervisor_did_not_write_is_refused() {
    assertThatThrownBy(() -> ProcessSecrets.decode("just a line\n".getBytes(StandardCharsets.UTF_8)))
        .isInstanceOf(BulwarkException.class).hasMessageContaining("malformed");
    assertThatThrownBy(() -> ProcessSecrets.decode("A=%%%\n".getBytes(StandardCharsets.UTF_8)))
        .isInstanceOf(BulwarkException.class).hasMessageContaining("A is not base64");
  }
}
