package io.bulwark.node;

import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** A component's HTTP health check, as the supervisor, `status` and `check` make it: short timeouts, 200 only. */
public final class Health {
  private Health() {}

  public static boolean httpHealthy(int port, String path) {
    return httpHealthy("127.0.0.1", port, path, null);
  }

  /** {@code tlsCertificate}: HTTPS, trusting only that certificate (host name verified); null for HTTP. */
  public static boolean httpHealthy(String host, int port, String path, Path tlsCertificate) {
    try {
      httpGet(host, port, path, tlsCertificate);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /** A GET's body (200 only), with a check's short timeouts; a plain connection, cheap enough to make every second. */
  public static String httpGet(String host, int port, String path) throws IOException {
    return httpGet(host, port, path, null);
  }

  public static String httpGet(String host, int port, String path, Path tlsCertificate) throws IOException {
    HttpURLConnection c = (HttpURLConnection) URI.create((tlsCertificate == null ? "http://" : "https://") + host + ":" + port + path)
        .toURL().openConnection();
    if (c instanceof javax.net.ssl.HttpsURLConnection https) {
      try {
        https.setSSLSocketFactory(io.bulwark.core.tls.Certificates.trusting(tlsCertificate).getSocketFactory());
      } catch (io.bulwark.core.BulwarkException e) {
        throw new IOException(e.getMessage(), e);
      }
    }
    c.setConnectTimeout(1000);
    c.setReadTimeout(2000);
    try {
      if (c.getResponseCode() != 200) throw new IOException(path + " answered " + c.getResponseCode());
      try (var in = c.getInputStream()) {
        return new String(in.readNBytes(4 << 20), StandardCharsets.UTF_8);
      }
    } finally {
      c.disconnect();
    }
  }
}
