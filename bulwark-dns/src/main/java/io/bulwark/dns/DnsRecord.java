package io.bulwark.dns;

import java.time.Duration;
import java.util.Locale;

/**
 * The one name the controller keeps pointing at a healthy gateway: {@code name} (fully qualified, no
 * trailing dot needed) in {@code zone}, of {@code type}, with {@code ttl}, the longest a resolver may
 * keep answering with the old gateway after a switch.
 */
public record DnsRecord(String name, String zone, Type type, Duration ttl) {

  /** The record types a name can point at a gateway with: an address, or another name. */
  public enum Type {
    A, AAAA, CNAME;

    /** Parses a type, refusing every other kind of record with one line. */
    public static Type parse(String text) {
      for (Type t : values()) if (t.name().equalsIgnoreCase(text.trim())) return t;
      throw new DnsConfigException("record type '" + text + "' cannot point a name at a gateway; use A (an IPv4 address), AAAA"
          + " (an IPv6 address) or CNAME (a host name)");
    }
  }

  public DnsRecord {
    name = canonical(name);
    zone = canonical(zone);
    if (name.isEmpty()) throw new DnsConfigException("the DNS name is empty; give the name clients use, e.g. api.example.test");
    if (zone.isEmpty()) throw new DnsConfigException("the DNS zone is empty; give the zone the name is in, e.g. example.test");
    if (!name.equals(zone) && !name.endsWith("." + zone)) {
      throw new DnsConfigException("the name " + name + " is not in the zone " + zone + "; the zone must be a suffix of the name");
    }
    if (ttl.isNegative() || ttl.isZero() || ttl.toSeconds() > 86_400) {
      throw new DnsConfigException("the record's ttl must be 1 s to 1 day, got " + ttl.toSeconds() + " s; short is the point: it"
          + " bounds how long clients keep the old gateway after a switch");
    }
  }

  /** Lower case without the trailing dot. */
  static String canonical(String name) {
    String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
    return n.endsWith(".") ? n.substring(0, n.length() - 1) : n;
  }
}
