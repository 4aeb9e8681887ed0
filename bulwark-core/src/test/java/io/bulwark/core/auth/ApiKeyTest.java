package io.bulwark.core.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.NullAndEmptySource;
import org.junit.jupiter.params.provider.ValueSource;

class ApiKeyTest {
  private static final String SECRET_43 = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJK_-0123";

  @Test
  void a_generated_token_parses_back_to_the_same_id_and_secret() {
    for (int i = 0; i < 200; i++) {
      ApiKey key = ApiKey.generate();
      assertThat(key.token()).startsWith("bwk_" + key.id() + "_");
      assertThat(ApiKey.parse(key.token())).contains(key);
    }
  }

  @Test
  void generated_ids_are_16_lower_case_alphanumerics_and_secrets_are_256_bit_url_safe_base64() {
    ApiKey key = ApiKey.generate();
    assertThat(key.id()).matches("[a-z0-9]{16}");
    assertThat(key.secret()).matches("[A-Za-z0-9_-]{43}");
    assertThat(java.util.Base64.getUrlDecoder().decode(key.secret())).hasSize(32);
  }

  @Test
  void generated_keys_are_unique() {
    Set<String> ids = new HashSet<>();
    Set<String> secrets = new HashSet<>();
    for (int i = 0; i < 1000; i++) {
      ApiKey key = ApiKey.generate();
      ids.add(key.id());
      secrets.add(key.secret());
    }
    assertThat(ids).hasSize(1000);
    assertThat(secrets).hasSize(1000);
  }

  @Test
  void parse_accepts_a_well_formed_key_whose_secret_contains_underscores() {
    assertThat(ApiKey.parse("bwk_0123456789abcdef_" + SECRET_43))
        .contains(new ApiKey("0123456789abcdef", SECRET_43));
  }

  @ParameterizedTest
  @NullAndEmptySource
  @ValueSource(strings = {
      "bwk_",
      "bwk_0123456789abcdef",
      "bwk_0123456789abcdef_",
      "BWK_0123456789abcdef_" + SECRET_43, // prefix is case sensitive
      "bwx_0123456789abcdef_" + SECRET_43, // wrong prefix
      "0123456789abcdef_" + SECRET_43, // no prefix
      "bwk_0123456789ABCDEF_" + SECRET_43, // id must be lower case
      "bwk_0123456789abcde_" + SECRET_43, // id too short
      "bwk_0123456789abcdef0_" + SECRET_43, // id too long
      "bwk_0123456789abcdef_" + SECRET_43 + "A", // secret too long
      "bwk_0123456789abcdef_abcdefghijklmnopqrstuvwxyzABCDEFGHIJK_-012", // secret too short
      "bwk_0123456789abcdef_abcdefghijklmnopqrstuvwxyzABCDEFGHIJK_+012", // not url-safe base64
      "bwk_0123456789abcdef_abcdefghijklmnopqrstuvwxyzABCDEFGHIJK_-01=", // padding
      " bwk_0123456789abcdef_" + SECRET_43, // surrounding whitespace
      "bwk_0123456789abcdef_" + SECRET_43 + "\n",
      "Bearer bwk_0123456789abcdef_" + SECRET_43,
  })
  void parse_rejects_malformed_strings(String presented) {
    assertThat(ApiKey.parse(presented)).isEmpty();
  }

  @Test
  void matches_is_true_for_the_hash_of_its_own_secret_and_false_for_another_keys_hash() {
    ApiKey key = ApiKey.generate();
    ApiKey other = ApiKey.generate();
    byte[] stored = key.secretHash();

    assertThat(ApiKey.parse(key.token()).orElseThrow().matches(stored)).isTrue();
    assertThat(key.matches(other.secretHash())).isFalse();
    assertThat(other.matches(stored)).isFalse();
    // same id, different secret: still no match
    assertThat(new ApiKey(key.id(), other.secret()).matches(stored)).isFalse();
  }

  @Test
  void matches_is_false_for_empty_or_truncated_hashes() {
    ApiKey key = ApiKey.generate();
    byte[] stored = key.secretHash();
    assertThat(key.matches(new byte[0])).isFalse();
    assertThat(key.matches(java.util.Arrays.copyOf(stored, 16))).isFalse();
  }

  @Test
  void the_secret_hash_is_the_sha256_of_the_secret_not_the_secret() throws Exception {
    ApiKey key = ApiKey.generate();
    byte[] expected = MessageDigest.getInstance("SHA-256").digest(key.secret().getBytes(StandardCharsets.UTF_8));
    assertThat(key.secretHash()).hasSize(32).isEqualTo(expected);
    assertThat(new String(key.secretHash(), StandardCharsets.ISO_8859_1)).doesNotContain(key.secret());
  }

  @Test
  void to_string_shows_the_id_but_never_the_secret() {
    ApiKey key = ApiKey.generate();
    assertThat(key.toString()).contains(key.id()).doesNotContain(key.secret()).doesNotContain(key.token());
    assertThat(String.valueOf(ApiKey.parse(key.token()))).doesNotContain(key.secret());
  }
}
