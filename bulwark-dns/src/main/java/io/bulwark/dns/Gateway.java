package io.bulwark.dns;

import java.net.URI;

/**
 * A gateway the name can point at: its name, the record's value that points at it (an address, or a
 * host name for CNAME), and the URL of its health check through its public port, which the gateway
 * answers by asking an API server's readiness: a gateway that runs but reaches no API server fails it.
 */
public record Gateway(String name, String target, URI health) {
  /** The readiness path of Bulwark's gateway (proxied to an API server's {@code /health/ready}). */
  public static final String HEALTH_PATH = "/health/ready";

  /** A gateway at {@code address:port}, checked through {@code http://address:port/health/ready}. */
  public static Gateway at(String name, String address, int port) {
    String host = address.contains(":") ? "[" + address + "]" : address;
    return new Gateway(name, address, URI.create("http://" + host + ":" + port + HEALTH_PATH));
  }

  /**
   * Parses {@code NAME=ADDRESS:PORT} (a command-line flag), e.g. {@code gateway-a=127.0.0.1:8080}.
   */
  public static Gateway parse(String spec) {
    int eq = spec.indexOf('=');
    int colon = spec.lastIndexOf(':');
    if (eq < 1 || colon < eq + 2 || colon == spec.length() - 1) {
      throw new DnsConfigException("a gateway is NAME=ADDRESS:PORT, e.g. gateway-a=127.0.0.1:8080; got '" + spec + "'");
    }
    String address = spec.substring(eq + 1, colon);
    if (address.startsWith("[") && address.endsWith("]")) address = address.substring(1, address.length() - 1);
    int port;
    try {
      port = Integer.parseInt(spec.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new DnsConfigException("the gateway '" + spec + "' has no port number after the last ':'", e);
    }
    if (port < 1 || port > 65_535) throw new DnsConfigException("the gateway '" + spec + "' has port " + port + ", outside 1-65535");
    return at(spec.substring(0, eq), address, port);
  }
}
