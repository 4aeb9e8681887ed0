package io.bulwark.core.tls;

import io.bulwark.core.BulwarkException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.Key;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * PEM certificates and keys: a self-signed pair for local use (made with the JDK's own {@code keytool},
 * so nothing else needs installing), and a client {@link SSLContext} that trusts a given certificate.
 *
 * <p>The files are the ones every TLS server reads: the certificate as {@code -----BEGIN CERTIFICATE-----}
 * and the key, unencrypted PKCS#8, as {@code -----BEGIN PRIVATE KEY-----} (mode 0600).
 */
public final class Certificates {
  private Certificates() {}

  /**
   * Writes a new self-signed certificate (ECDSA P-256, SHA-256) valid {@code days} days for the
   * given names and IP addresses, and its key. The key file is created 0600 and replaced only whole.
   */
  public static X509Certificate writeSelfSigned(Path certificate, Path key, String commonName, List<String> dnsNames,
      List<String> ipAddresses, int days) {
    if (dnsNames.isEmpty() && ipAddresses.isEmpty()) throw new IllegalArgumentException("a certificate needs a name or an address");
    Path dir = certificate.toAbsolutePath().getParent();
    Path store = dir.resolve(".selfsigned-" + HexFormat.of().formatHex(random(6)) + ".p12");
    char[] password = HexFormat.of().formatHex(random(16)).toCharArray();
    try {
      Files.createDirectories(dir);
      List<String> san = new ArrayList<>();
      dnsNames.forEach(n -> san.add("dns:" + n));
      ipAddresses.forEach(a -> san.add("ip:" + a));
      Path keytool = Path.of(System.getProperty("java.home"), "bin", "keytool");
      // the store's password goes on keytool's stdin ("-storepass:env" would put it in an environment)
      Process p = new ProcessBuilder(keytool.toString(), "-genkeypair", "-noprompt", "-alias", "bulwark", "-keyalg", "EC",
          "-groupname", "secp256r1", "-sigalg", "SHA256withECDSA", "-dname", "CN=" + commonName, "-ext", "SAN=" + String.join(",", san),
          "-validity", Integer.toString(days), "-storetype", "PKCS12", "-keystore", store.toString())
          .redirectErrorStream(true).start();
      String pw = new String(password) + "\n";
      p.getOutputStream().write((pw + pw).getBytes(StandardCharsets.UTF_8));
      p.getOutputStream().close();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
        p.destroyForcibly();
        throw new BulwarkException("keytool could not make a self-signed certificate: " + out.strip());
      }
      KeyStore ks = KeyStore.getInstance("PKCS12");
      try (InputStream in = Files.newInputStream(store)) {
        ks.load(in, password);
      }
      Key k = ks.getKey("bulwark", password);
      X509Certificate cert = (X509Certificate) ks.getCertificate("bulwark");
      io.bulwark.core.io.Fs.writeAtomically(key, pem("PRIVATE KEY", k.getEncoded()).getBytes(StandardCharsets.US_ASCII)); // 0600
      Files.writeString(certificate, pem("CERTIFICATE", cert.getEncoded()));
      return cert;
    } catch (IOException | GeneralSecurityException e) {
      throw new BulwarkException("cannot make a self-signed certificate in " + dir + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BulwarkException("interrupted while making a self-signed certificate", e);
    } finally {
      try {
        Files.deleteIfExists(store);
      } catch (IOException ignored) {
        // a leftover store holds a key only its random, forgotten password opens
      }
    }
  }

  /** The certificates in a PEM file; a clear error when there are none. */
  public static List<X509Certificate> read(Path pemFile) {
    try {
      byte[] bytes = Files.readAllBytes(pemFile);
      List<X509Certificate> certs = new ArrayList<>();
      for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(bytes))) {
        certs.add((X509Certificate) c);
      }
      if (certs.isEmpty()) throw new BulwarkException(pemFile + " holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)");
      return certs;
    } catch (IOException e) {
      throw new BulwarkException("cannot read the certificate " + pemFile + ": " + e.getMessage(), e);
    } catch (GeneralSecurityException e) {
      throw new BulwarkException(pemFile + " is not a PEM certificate: " + e.getMessage(), e);
    }
  }

  /** A TLS client context that trusts exactly the certificates in {@code pemFile} (with host name verification left on). */
  public static SSLContext trusting(Path pemFile) {
    try {
      KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
      trust.load(null, null);
      int i = 0;
      for (X509Certificate c : read(pemFile)) trust.setCertificateEntry("trusted-" + i++, c);
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(trust);
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, tmf.getTrustManagers(), null);
      return ctx;
    } catch (IOException | GeneralSecurityException e) {
      throw new BulwarkException("cannot build a TLS context trusting " + pemFile + ": " + e.getMessage(), e);
    }
  }

  static String pem(String type, byte[] der) {
    return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
        + "\n-----END " + type + "-----\n";
  }

  private static byte[] random(int n) {
    byte[] b = new byte[n];
    new SecureRandom().nextBytes(b);
    return b;
  }
}
