package io.bulwark.dns;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Optional;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.CNAMERecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.TSIGRecord;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;
import org.xbill.DNS.Update;

/**
 * The record on an authoritative DNS server that takes dynamic updates (RFC 2136) signed with a TSIG
 * key (RFC 8945): BIND 9, Knot, PowerDNS, Windows DNS. Every request goes over TCP to the zone's
 * primary server and is signed; answers are checked against the key.
 *
 * <p>A switch is one update message that deletes the name's records of the type and adds the new
 * one: the server applies an update atomically (RFC 2136 §3.7), so resolvers see the old value or the
 * new one, never none. {@link #validate()} reads the zone's SOA (the zone is served, the key is
 * accepted) and sends an update whose only prerequisite is that the zone's apex exists and which
 * changes nothing: the server checks the key's right to update before the prerequisites, so a key
 * without {@code allow-update} is refused there, and nothing changed.
 */
public final class Rfc2136Provider implements DnsProvider {
  private final InetSocketAddress server;
  private final TsigKey key;
  private final DnsRecord record;
  private final Duration timeout;
  private final Name name;
  private final Name zone;
  private final int type;

  public Rfc2136Provider(InetSocketAddress server, TsigKey key, DnsRecord record, Duration timeout) {
    this.server = server;
    this.key = key;
    this.record = record;
    this.timeout = timeout;
    try {
      this.name = Name.fromString(record.name() + ".");
      this.zone = Name.fromString(record.zone() + ".");
    } catch (TextParseException e) {
      throw new DnsConfigException("not a DNS name: " + e.getMessage(), e);
    }
    this.type = switch (record.type()) {
      case A -> Type.A;
      case AAAA -> Type.AAAA;
      case CNAME -> Type.CNAME;
    };
  }

  @Override
  public String describe() {
    return "RFC 2136 server " + server.getHostString() + ":" + server.getPort() + " (zone " + record.zone() + ", key " + key.name() + ")";
  }

  @Override
  public DnsRecord record() {
    return record;
  }

  @Override
  public void validate() {
    Message soa = send(Message.newQuery(Record.newRecord(zone, Type.SOA, DClass.IN)), "read the zone's SOA");
    if (soa.getRcode() != Rcode.NOERROR || !soa.getHeader().getFlag(Flags.AA)
        || soa.getSection(Section.ANSWER).stream().noneMatch(r -> r.getType() == Type.SOA)) {
      throw new DnsConfigException(describe() + " does not serve zone " + record.zone() + " (its answer to the zone's SOA: "
          + Rcode.string(soa.getRcode()) + (soa.getHeader().getFlag(Flags.AA) ? "" : ", not authoritative") + ")");
    }
    Update probe = new Update(zone);
    probe.present(zone); // true for any zone that exists; no update records: nothing can change
    Message answer = send(probe, "check the key's right to update");
    if (answer.getRcode() != Rcode.NOERROR) throw refused(answer, "may not update zone " + record.zone());
  }

  @Override
  public Optional<String> current() {
    Message answer = send(Message.newQuery(Record.newRecord(name, type, DClass.IN)), "read " + record.name());
    int rcode = answer.getRcode();
    if (rcode == Rcode.NXDOMAIN) return Optional.empty();
    if (rcode != Rcode.NOERROR) throw refused(answer, "cannot read " + record.name());
    for (Record r : answer.getSection(Section.ANSWER)) {
      if (r.getType() != type || !r.getName().equals(name)) continue;
      return Optional.of(switch (r) {
        case ARecord a -> a.getAddress().getHostAddress();
        case AAAARecord a -> a.getAddress().getHostAddress();
        case CNAMERecord c -> c.getTarget().toString(true);
        default -> r.rdataToString();
      });
    }
    return Optional.empty();
  }

  @Override
  public void point(String target) {
    Update update = new Update(zone);
    try {
      update.replace(name, type, record.ttl().toSeconds(), record.type() == DnsRecord.Type.CNAME ? asName(target) : target);
    } catch (IOException | IllegalArgumentException e) {
      throw new DnsConfigException("'" + target + "' is not a valid " + record.type() + " value for " + record.name() + ": " + e.getMessage(), e);
    }
    Message answer = send(update, "point " + record.name() + " at " + target);
    if (answer.getRcode() != Rcode.NOERROR) throw refused(answer, "did not point " + record.name() + " at " + target);
  }

  private static String asName(String host) {
    return host.endsWith(".") ? host : host + ".";
  }

  private Message send(Message request, String what) {
    SimpleResolver resolver = new SimpleResolver(server);
    resolver.setTCP(true);
    resolver.setTimeout(timeout);
    resolver.setTSIGKey(key.toTsig());
    Message answer;
    try {
      answer = resolver.send(request);
    } catch (IOException e) {
      throw new DnsUnavailableException(describe() + " did not answer (" + what + "): " + e.getMessage(), null, e);
    }
    TSIGRecord tsig = answer.getTSIG();
    if (tsig != null && tsig.getError() != Rcode.NOERROR) throw refusedKey(tsig.getError());
    if (answer.getRcode() == Rcode.NOTAUTH && tsig == null) {
      throw new DnsConfigException(describe() + " refused the TSIG key '" + key.name() + "' (NOTAUTH, unsigned answer):"
          + " the server does not know this key name, or its secret or algorithm differs");
    }
    if (answer.getRcode() == Rcode.SERVFAIL) {
      throw new DnsUnavailableException(describe() + " answered SERVFAIL (" + what + "); it may be loading the zone");
    }
    if (tsig == null) {
      throw new DnsConfigException(describe() + " answered a signed request without a signature (" + Rcode.string(answer.getRcode())
          + "); it is not the server that holds key '" + key.name() + "'");
    }
    if (!answer.isVerified()) {
      throw new DnsConfigException(describe() + " signed its answer with a key that does not match '" + key.name() + "'");
    }
    return answer;
  }

  private DnsConfigException refusedKey(int tsigError) {
    String why = switch (tsigError) {
      case Rcode.BADSIG -> "BADSIG: its secret differs from the server's";
      case Rcode.BADKEY -> "BADKEY: the server does not know a key of this name and algorithm";
      case Rcode.BADTIME -> "BADTIME: this host's clock and the server's differ by more than the allowed fudge";
      default -> Rcode.TSIGstring(tsigError);
    };
    return new DnsConfigException(describe() + " refused the TSIG key '" + key.name() + "' (" + why + ")");
  }

  private DnsConfigException refused(Message answer, String what) {
    int rcode = answer.getRcode();
    String why = switch (rcode) {
      case Rcode.REFUSED -> "REFUSED: the key has no update right on this zone (allow-update/update-policy) or the zone is not served";
      case Rcode.NOTAUTH -> "NOTAUTH: the server is not authoritative for zone " + record.zone();
      case Rcode.NOTZONE -> "NOTZONE: " + record.name() + " is not in zone " + record.zone();
      case Rcode.YXRRSET, Rcode.NXRRSET, Rcode.YXDOMAIN, Rcode.NXDOMAIN -> Rcode.string(rcode) + ": a prerequisite failed";
      default -> Rcode.string(rcode);
    };
    return new DnsConfigException(describe() + " " + what + " (" + why + ")");
  }
}
