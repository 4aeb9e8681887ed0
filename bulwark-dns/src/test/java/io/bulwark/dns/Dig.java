package io.bulwark.dns;

import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.List;

/** Resolves through a DNS server with BIND's own `dig`, as a client would: the answer section's values. */
final class Dig {
  private Dig() {}

  static List<String> a(InetSocketAddress server, String name) {
    try {
      Process p = new ProcessBuilder("dig", "+short", "+tries=1", "+time=1", "@" + server.getHostString(), "-p",
          Integer.toString(server.getPort()), name, "A").redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes()).strip();
      if (p.waitFor() != 0) throw new IllegalStateException("dig failed: " + out);
      return out.isEmpty() ? List.of() : Arrays.asList(out.split("\\s+"));
    } catch (java.io.IOException e) {
      throw new IllegalStateException("cannot run dig (apt-get install bind9-dnsutils): " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
