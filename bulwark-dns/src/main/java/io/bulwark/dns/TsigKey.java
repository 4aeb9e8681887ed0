package io.bulwark.dns;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A TSIG key (RFC 8945): name, HMAC algorithm and shared secret, read from and written in BIND's own
 * key-file format, the one {@code tsig-keygen NAME} prints and {@code nsupdate -k} reads:
 * {@code key "NAME" { algorithm hmac-sha256; secret "BASE64"; };}. The secret is never part of
 * {@link #toString()}.
 */
public record TsigKey(String name, String algorithm, String secret) {
  private static final Pattern KEY = Pattern.compile(
      "key\\s+\"?([A-Za-z0-9._-]+)\"?\\s*\\{\\s*algorithm\\s+\"?([A-Za-z0-9-]+)\"?\\s*;\\s*secret\\s+\"([A-Za-z0-9+/=]+)\"\\s*;\\s*}\\s*;?");

  public TsigKey {
    algorithm = algorithm.toLowerCase(Locale.ROOT);
    if (!algorithm.startsWith("hmac-")) throw new DnsConfigException("TSIG key '" + name + "': unsupported algorithm " + algorithm);
  }

  /** A new hmac-sha256 key with a 256-bit secret. */
  public static TsigKey generate(String name) {
    byte[] secret = new byte[32];
    new SecureRandom().nextBytes(secret);
    return new TsigKey(name, "hmac-sha256", Base64.getEncoder().encodeToString(secret));
  }

  /** Reads a key file in BIND's format (as {@code tsig-keygen} writes it). */
  public static TsigKey read(Path file) {
    String text;
    try {
      text = Files.readString(file);
    } catch (IOException e) {
      throw new DnsConfigException("cannot read the TSIG key file " + file + ": " + e.getMessage(), e);
    }
    Matcher m = KEY.matcher(text);
    if (!m.find()) {
      throw new DnsConfigException("the TSIG key file " + file + " holds no key in BIND's format"
          + " (key \"NAME\" { algorithm hmac-sha256; secret \"BASE64\"; };), as `tsig-keygen NAME` prints it");
    }
    return new TsigKey(m.group(1), m.group(2), m.group(3));
  }

  /** The key in BIND's format, for named.conf and key files (holds the secret: write it 0600). */
  public String toBindFormat() {
    return "key \"" + name + "\" {\n\talgorithm " + algorithm + ";\n\tsecret \"" + secret + "\";\n};\n";
  }

  org.xbill.DNS.TSIG toTsig() {
    try {
      return new org.xbill.DNS.TSIG(org.xbill.DNS.TSIG.algorithmToName(algorithm), name, secret);
    } catch (IllegalArgumentException e) {
      throw new DnsConfigException("TSIG key '" + name + "' is not usable (" + algorithm + "): " + e.getMessage(), e);
    }
  }

  @Override
  public String toString() {
    return "TsigKey[" + name + ", " + algorithm + "]";
  }
}
