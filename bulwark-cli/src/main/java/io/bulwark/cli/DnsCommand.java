package io.bulwark.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.bulwark.cluster.events.EventJournal;
import io.bulwark.cluster.events.EventRecorder;
import io.bulwark.cluster.events.FileEventJournal;
import io.bulwark.cluster.lease.InMemoryLeaseStore;
import io.bulwark.cluster.lease.LeaderLease;
import io.bulwark.cluster.lease.LeaseStore;
import io.bulwark.core.BulwarkException;
import io.bulwark.core.metrics.Metrics;
import io.bulwark.dns.CloudflareProvider;
import io.bulwark.dns.DnsAdmin;
import io.bulwark.dns.DnsController;
import io.bulwark.dns.DnsPolicy;
import io.bulwark.dns.DnsProvider;
import io.bulwark.dns.DnsRecord;
import io.bulwark.dns.Gateway;
import io.bulwark.dns.Rfc2136Provider;
import io.bulwark.dns.TsigKey;
import io.bulwark.etcd.EtcdClusterState;
import io.bulwark.node.Component;
import io.bulwark.node.DataDir;
import io.bulwark.node.Roles;
import io.bulwark.node.RunningComponents;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "dns", mixinStandardHelpOptions = true,
    subcommands = {DnsCommand.Run.class, DnsCommand.Status.class, DnsCommand.Switch.class},
    description = {"The front door: one DNS name kept pointing at a healthy gateway.",
        "",
        "`bulwark up --dns bind` runs it all on one machine (a second gateway, a local BIND, the controller);",
        "`dns status` and `dns switch` talk to the running controller."})
final class DnsCommand implements Runnable {
  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }

  @Command(name = "run", mixinStandardHelpOptions = true,
      description = {"Run the DNS controller (the `dns` role): check every gateway through its public port (all the way to an API",
          "server's readiness) every --interval; when the gateway the name points at fails --fall checks in a row, point the",
          "name at a healthy one. Never points at an unhealthy gateway, never removes the record.",
          "",
          "Providers: rfc2136 (a DNS server taking TSIG-signed dynamic updates: BIND, Knot, PowerDNS) or cloudflare",
          "(DNS records API; the token from --cloudflare-token-file or BULWARK_CLOUDFLARE_TOKEN, never on the command line)."})
  static final class Run implements Callable<Integer> {
    @Option(names = "--name", defaultValue = "dns", description = "Component name (default: ${DEFAULT-VALUE})")
    String name;

    @Option(names = "--record", required = true, paramLabel = "NAME", description = "The name clients use, e.g. api.example.test")
    String record;

    @Option(names = "--zone", required = true, description = "The zone the name is in, e.g. example.test")
    String zone;

    @Option(names = "--type", defaultValue = "A", paramLabel = "A|AAAA|CNAME", description = "Record type (default: ${DEFAULT-VALUE})")
    String type;

    @Option(names = "--ttl", defaultValue = "5s", paramLabel = "DURATION",
        description = "The record's ttl: how long resolvers may keep the old gateway after a switch (default: ${DEFAULT-VALUE})")
    String ttl;

    @Option(names = "--gateway", required = true, paramLabel = "NAME=ADDRESS:PORT",
        description = "A gateway, in order of preference; ADDRESS is the record's value (repeat, at least two)")
    List<String> gateways = new ArrayList<>();

    @Option(names = "--provider", defaultValue = "rfc2136", paramLabel = "rfc2136|cloudflare", description = "(default: ${DEFAULT-VALUE})")
    String provider;

    @Option(names = "--server", paramLabel = "HOST:PORT", description = "rfc2136: the zone's primary server")
    String server;

    @Option(names = "--tsig-key-file", paramLabel = "FILE", description = "rfc2136: the TSIG key in BIND's format (tsig-keygen NAME > FILE)")
    Path tsigKeyFile;

    @Option(names = "--cloudflare-api", defaultValue = "https://api.cloudflare.com/client/v4", paramLabel = "URL",
        description = "cloudflare: the API's base URL (default: ${DEFAULT-VALUE})")
    URI cloudflareApi;

    @Option(names = "--cloudflare-zone-id", paramLabel = "ID", description = "cloudflare: the zone's id")
    String cloudflareZoneId;

    @Option(names = "--cloudflare-token-file", paramLabel = "FILE", description = "cloudflare: a file holding an API token with Zone.DNS:Edit")
    Path cloudflareTokenFile;

    @Option(names = "--proxied", description = "cloudflare: proxy the record through Cloudflare (orange cloud)")
    boolean proxied;

    @Option(names = "--interval", defaultValue = "1s", paramLabel = "DURATION", description = "Check interval (default: ${DEFAULT-VALUE})")
    String interval;

    @Option(names = "--check-timeout", defaultValue = "1s", paramLabel = "DURATION", description = "One check's timeout (default: ${DEFAULT-VALUE})")
    String checkTimeout;

    @Option(names = "--rise", defaultValue = "2", description = "Passed checks that make a gateway healthy again (default: ${DEFAULT-VALUE})")
    int rise;

    @Option(names = "--fall", defaultValue = "3", description = "Failed checks in a row that make a gateway down (default: ${DEFAULT-VALUE})")
    int fall;

    @Option(names = "--failback", description = "Return to the first gateway once it passed --failback-after checks in a row")
    boolean failback;

    @Option(names = "--failback-after", defaultValue = "30", description = "(default: ${DEFAULT-VALUE})")
    int failbackAfter;

    @Option(names = "--admin-port", defaultValue = "0", description = "Admin API port on 127.0.0.1 (default: any free port)")
    int adminPort;

    @Option(names = "--data-dir", paramLabel = "DIR", description = "One machine: the data directory whose event journal to write")
    Path dataDir;

    @Option(names = "--etcd-endpoint", paramLabel = "URL", description = "A cluster: etcd endpoints for the leader lease and the journal (repeat)")
    List<String> etcdEndpoints = new ArrayList<>();

    @Option(names = "--etcd-prefix", paramLabel = "PREFIX", description = "A cluster: its key prefix in etcd, e.g. /bulwark/prod")
    String etcdPrefix;

    @Option(names = "--node", defaultValue = EventRecorder.LOCAL_NODE, description = "This host's node name, in the lease and the events")
    String node;

    @Override
    public Integer call() throws Exception {
      DnsRecord rec = new DnsRecord(record, zone, DnsRecord.Type.parse(type), DurationConverter.parse("--ttl", ttl));
      List<Gateway> gs = gateways.stream().map(Gateway::parse).toList();
      Duration every = DurationConverter.parse("--interval", interval);
      DnsController.Config config = new DnsController.Config(gs, new DnsPolicy.Config(rise, fall, failback, failbackAfter), every,
          DurationConverter.parse("--check-timeout", checkTimeout), node, LeaderLease.Config.DEFAULT);
      DnsProvider dns = provider(rec);
      long seconds = rec.ttl().toSeconds();
      if (provider.equals("cloudflare") && !proxied && seconds > 1 && seconds < 60) {
        org.slf4j.LoggerFactory.getLogger(DnsCommand.class).warn("Cloudflare accepts a ttl of 1 (automatic) or 60 s and more outside"
            + " Enterprise plans (30 s there); --ttl {}s may be refused at the first switch", seconds);
      }
      EtcdClusterState etcd = null;
      LeaseStore leases;
      EventJournal journal;
      if (!etcdEndpoints.isEmpty()) {
        if (etcdPrefix == null) throw new BulwarkException("--etcd-endpoint needs --etcd-prefix (the cluster's prefix, e.g. /bulwark/prod)");
        etcd = new EtcdClusterState(etcdEndpoints, etcdPrefix, Duration.ofSeconds(2));
        leases = etcd.leases(Duration.ofSeconds(1));
        journal = etcd.journal();
      } else {
        leases = new InMemoryLeaseStore();
        journal = dataDir == null ? EventJournal.NONE : new FileEventJournal(new DataDir(dataDir).events());
      }
      Metrics metrics = new Metrics().withJvmGauges();
      DnsController controller = new DnsController(config, dns, leases, new EventRecorder(journal, node, name), metrics);
      controller.start();
      DnsAdmin admin = new DnsAdmin(controller, metrics, adminPort);
      admin.start();
      EtcdClusterState cluster = etcd;
      return Roles.runUntilSignalled(name, () -> {
        admin.close();
        controller.close();
        journal.close();
        if (cluster != null) cluster.close();
      });
    }

    private DnsProvider provider(DnsRecord rec) throws Exception {
      return switch (provider) {
        case "rfc2136" -> {
          if (server == null || tsigKeyFile == null) {
            throw new BulwarkException("--provider rfc2136 needs --server HOST:PORT and --tsig-key-file FILE");
          }
          int colon = server.lastIndexOf(':');
          if (colon < 1) throw new BulwarkException("--server must be HOST:PORT, e.g. 127.0.0.1:53, got '" + server + "'");
          yield new Rfc2136Provider(new InetSocketAddress(server.substring(0, colon), Integer.parseInt(server.substring(colon + 1))),
              TsigKey.read(tsigKeyFile), rec, Duration.ofSeconds(2));
        }
        case "cloudflare" -> {
          if (cloudflareZoneId == null) throw new BulwarkException("--provider cloudflare needs --cloudflare-zone-id");
          yield new CloudflareProvider(cloudflareApi, cloudflareZoneId, cloudflareToken(), rec, proxied, Duration.ofSeconds(5));
        }
        default -> throw new BulwarkException("--provider must be rfc2136 or cloudflare, got '" + provider + "'");
      };
    }

    private String cloudflareToken() throws Exception {
      if (cloudflareTokenFile != null) {
        String t = Files.readString(cloudflareTokenFile).strip();
        if (t.isEmpty()) throw new BulwarkException("the Cloudflare token file " + cloudflareTokenFile + " is empty");
        return t;
      }
      String env = System.getenv("BULWARK_CLOUDFLARE_TOKEN");
      if (env == null || env.isBlank()) {
        throw new BulwarkException("--provider cloudflare needs a token: --cloudflare-token-file FILE or BULWARK_CLOUDFLARE_TOKEN");
      }
      return env.strip();
    }
  }

  /** Where a running controller's admin API is: --admin-url, or the `dns` component of `bulwark up` on --data-dir. */
  abstract static class AdminClient implements Callable<Integer> {
    static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = "--admin-url", description = "Admin API of the DNS controller, e.g. http://127.0.0.1:8069")
    String adminUrl;

    @Option(names = "--data-dir", defaultValue = DataDir.DEFAULT, paramLabel = "DIR", description = "Data directory of `bulwark up` (default: ./${DEFAULT-VALUE})")
    Path dataDir;

    String adminUrl() {
      if (adminUrl != null) return adminUrl;
      DataDir dir = new DataDir(dataDir);
      for (JsonNode c : RunningComponents.find(dir).map(r -> r.select("dns")).orElse(List.of())) {
        if (c.path("port").asInt() > 0) return "http://127.0.0.1:" + c.path("port").asInt();
      }
      throw new BulwarkException("no DNS controller runs on " + dir.root() + "; start one with `bulwark up --dns bind`, or pass --admin-url");
    }

    static JsonNode send(HttpRequest request) throws Exception {
      HttpResponse<String> r;
      try {
        r = HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString());
      } catch (java.io.IOException e) {
        throw new BulwarkException("the DNS controller at " + request.uri().getAuthority() + " does not answer (" + e + "); is `bulwark up --dns bind` running?");
      }
      JsonNode body = JSON.readTree(r.body());
      if (r.statusCode() >= 300) throw new BulwarkException(body.path("detail").asText(r.body()));
      return body;
    }
  }

  @Command(name = "status", mixinStandardHelpOptions = true,
      description = "The name, where it points, each gateway's health through its public port, the last change, the provider.")
  static final class Status extends AdminClient {
    @Option(names = "--json", description = "Print the controller's JSON")
    boolean json;

    @Override
    public Integer call() throws Exception {
      JsonNode s = send(HttpRequest.newBuilder(URI.create(adminUrl() + "/status")).GET().build());
      if (json) {
        System.out.println(s.toPrettyString());
        return 0;
      }
      System.out.printf("name       %s (%s, ttl %d s) via %s%n", s.path("name").asText(), s.path("type").asText(), s.path("ttlSeconds").asLong(),
          s.path("provider").asText());
      System.out.printf("points at  %s%s   controller %s: %s%n", s.path("current").asText("(nothing)"),
          s.path("currentGateway").isTextual() ? " (" + s.path("currentGateway").asText() + ")" : " (no gateway of ours)",
          s.path("holder").asText(), s.path("leader").asBoolean() ? "leader, acting" : "standing by (another holds the lease)");
      System.out.printf("%n%-14s %-16s %-8s %-8s %s%n", "GATEWAY", "TARGET", "HEALTH", "CHECKS", "LAST PROBLEM");
      boolean ok = true;
      for (JsonNode g : s.path("gateways")) {
        int passed = g.path("passedInARow").asInt();
        int failed = g.path("failedInARow").asInt();
        System.out.printf("%-14s %-16s %-8s %-8s %s%n", g.path("name").asText(), g.path("target").asText(), g.path("health").asText(),
            failed > 0 ? failed + " failed" : passed + " ok", g.path("lastProblem").asText("-"));
        if (g.path("name").asText().equals(s.path("currentGateway").asText())) ok &= g.path("health").asText().equals("healthy");
      }
      JsonNode c = s.path("lastChange");
      System.out.println();
      System.out.println(c.isObject() ? String.format("last change %s: %s -> %s (%s)%s: %s", c.path("at").asText(), c.path("from").asText(),
          c.path("to").asText(), c.path("toGateway").asText(), c.path("planned").asBoolean() ? ", planned" : "", c.path("why").asText())
          : "last change none since the controller started");
      if (s.path("pinnedTo").isTextual()) {
        System.out.println("pinned     on " + s.path("pinnedTo").asText() + " by a forced switch: automatic switching resumes once it passes its checks");
      }
      System.out.println("provider   " + (s.path("providerProblem").isTextual() ? "FAILING: " + s.path("providerProblem").asText() : "ok"));
      return ok && !s.path("providerProblem").isTextual() && s.path("currentGateway").isTextual() ? 0 : 1;
    }
  }

  @Command(name = "switch", mixinStandardHelpOptions = true,
      description = {"Point the name at another gateway now (a planned switch), e.g. before maintenance of the current one.",
          "Refused when the target is not healthy, unless --force; a forced switch holds (no automatic switch away)",
          "until the target passes its checks."})
  static final class Switch extends AdminClient {
    @Parameters(index = "0", paramLabel = "GATEWAY", description = "The gateway's name, as `bulwark dns status` lists it")
    String gateway;

    @Option(names = "--force", description = "Switch even if the target fails its checks")
    boolean force;

    @Override
    public Integer call() throws Exception {
      JsonNode s = send(HttpRequest.newBuilder(URI.create(adminUrl() + "/switch")).header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString(JSON.createObjectNode().put("gateway", gateway).put("force", force).toString())).build());
      System.out.println(s.path("name").asText() + " now points at " + s.path("currentGateway").asText() + " (" + s.path("current").asText() + ")");
      return 0;
    }
  }
}
