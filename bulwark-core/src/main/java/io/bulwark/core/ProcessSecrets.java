package io.bulwark.core;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Secrets a supervisor hands a child process on its standard input, never in its environment: a
 * process's environment is readable by anything running as its user ({@code /proc/PID/environ}) and by
 * any code in it ({@code System.getenv}), handler code included, and is inherited by whatever it
 * starts. The supervisor moves the secret variables out of a child's environment, sets
 * {@value #ON_STDIN}, writes them to the child's standard input as {@code NAME=base64(value)} lines and
 * closes it; the child reads them once, at start, before anything else runs.
 *
 * <p>A process started by hand (an operator running {@code bulwark api}) still takes its secrets from
 * the environment: {@link #get} and {@link #environment} look there when nothing came on stdin.
 */
public final class ProcessSecrets {
  /** Set in a child's environment when its secrets come on standard input. */
  public static final String ON_STDIN = "BULWARK_SECRETS_ON_STDIN";
  /** The database password of a role that connects to PostgreSQL. */
  public static final String DB_PASSWORD = "BULWARK_DB_PASSWORD";
  /** Prefix of a storage region's connection string (one variable per storage account). */
  public static final String AZURE_CONNECTION_STRING_PREFIX = "BULWARK_AZURE_CONNECTION_STRING_";
  private static final int MAX_BYTES = 1 << 20;

  private static volatile Map<String, String> fromParent = Map.of();

  private ProcessSecrets() {}

  /** Whether an environment variable holds a secret that must reach a child on stdin, not in its environment. */
  public static boolean isSecret(String variable) {
    return variable.equals(DB_PASSWORD) || variable.startsWith(AZURE_CONNECTION_STRING_PREFIX);
  }

  /**
   * Moves the secret variables out of {@code environment} (a {@link ProcessBuilder}'s, before it
   * starts) and, if there were any, marks it to read them from stdin; returns them, to {@link #send}
   * once it has started. A child that inherited {@value #ON_STDIN} but is given no secrets loses it.
   */
  public static Map<String, String> takeFrom(Map<String, String> environment) {
    Map<String, String> secrets = new LinkedHashMap<>();
    environment.remove(ON_STDIN);
    environment.entrySet().removeIf(e -> {
      if (!isSecret(e.getKey())) return false;
      secrets.put(e.getKey(), e.getValue());
      return true;
    });
    if (!secrets.isEmpty()) environment.put(ON_STDIN, "1");
    return secrets;
  }

  /** Writes the secrets to a started child's standard input and closes it. */
  public static void send(Process child, Map<String, String> secrets) throws IOException {
    if (secrets.isEmpty()) return;
    try (OutputStream out = child.getOutputStream()) {
      out.write(encode(secrets));
    }
  }

  static byte[] encode(Map<String, String> secrets) {
    StringBuilder b = new StringBuilder();
    Base64.Encoder enc = Base64.getEncoder();
    secrets.forEach((k, v) -> b.append(k).append('=').append(enc.encodeToString(v.getBytes(StandardCharsets.UTF_8))).append('\n'));
    return b.toString().getBytes(StandardCharsets.UTF_8);
  }

  /**
   * In a child: reads the secrets its supervisor writes to standard input, if {@value #ON_STDIN} says
   * they come there. Call once, first thing. Fails if the input is not what a supervisor writes.
   */
  public static void readFromParentIfSent() {
    if (!"1".equals(System.getenv(ON_STDIN))) return;
    try {
      fromParent = decode(readAtMost(System.in, MAX_BYTES));
    } catch (IOException e) {
      throw new BulwarkException("cannot read the secrets the supervisor sends on standard input: " + e.getMessage(), e);
    }
    System.setIn(InputStream.nullInputStream());
  }

  static Map<String, String> decode(byte[] input) {
    Map<String, String> secrets = new HashMap<>();
    Base64.Decoder dec = Base64.getDecoder();
    for (String line : new String(input, StandardCharsets.UTF_8).split("\n")) {
      if (line.isEmpty()) continue;
      int eq = line.indexOf('=');
      if (eq <= 0) throw new BulwarkException("the secrets on standard input are malformed (a line without NAME=)");
      try {
        secrets.put(line.substring(0, eq), new String(dec.decode(line.substring(eq + 1)), StandardCharsets.UTF_8));
      } catch (IllegalArgumentException e) {
        throw new BulwarkException("the secrets on standard input are malformed (" + line.substring(0, eq) + " is not base64)");
      }
    }
    return Map.copyOf(secrets);
  }

  private static byte[] readAtMost(InputStream in, int max) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] buf = new byte[4096];
    for (int n; (n = in.read(buf)) >= 0; ) {
      out.write(buf, 0, n);
      if (out.size() > max) throw new IOException("more than " + max + " bytes");
    }
    return out.toByteArray();
  }

  /** A secret: from the supervisor when it sent them, else from the environment; null when neither has it. */
  public static String get(String name) {
    String v = fromParent.get(name);
    return v != null ? v : System.getenv(name);
  }

  /** This process's environment with the secrets its supervisor sent laid over it. */
  public static Map<String, String> environment() {
    if (fromParent.isEmpty()) return System.getenv();
    Map<String, String> env = new HashMap<>(System.getenv());
    env.putAll(fromParent);
    return env;
  }
}
