package io.bulwark.core.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * API keys look like {@code bwk_<id>_<secret>}. The id is public and indexes the key's row; the
 * secret is 256 random bits, shown once and stored only as its SHA-256. A fast hash is right here,
 * unlike for passwords: the secret has full entropy, so there is nothing to brute-force. Verification
 * compares digests in constant time.
 */
public record ApiKey(String id, String secret) {
  private static final Pattern FORMAT = Pattern.compile("bwk_([a-z0-9]{16})_([A-Za-z0-9_-]{43})");
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final char[] ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789".toCharArray();

  public static ApiKey generate() {
    char[] id = new char[16];
    for (int i = 0; i < id.length; i++) id[i] = ID_CHARS[RANDOM.nextInt(ID_CHARS.length)];
    byte[] secret = new byte[32];
    RANDOM.nextBytes(secret);
    return new ApiKey(new String(id), Base64.getUrlEncoder().withoutPadding().encodeToString(secret));
  }

  /** Parses a presented key; empty when it is not of the form {@code bwk_<id>_<secret>}. */
  public static Optional<ApiKey> parse(String presented) {
    if (presented == null) return Optional.empty();
    Matcher m = FORMAT.matcher(presented);
    return m.matches() ? Optional.of(new ApiKey(m.group(1), m.group(2))) : Optional.empty();
  }

  /** The full key, to show once. Never log it. */
  public String token() {
    return "bwk_" + id + "_" + secret;
  }

  public byte[] secretHash() {
    return sha256(secret);
  }

  /** Constant-time check of this key's secret against a stored hash. */
  public boolean matches(byte[] storedHash) {
    return MessageDigest.isEqual(secretHash(), storedHash);
  }

  @Override
  public String toString() {
    return "ApiKey[id=" + id + ", secret=***]";
  }

  static byte[] sha256(String s) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }
}
