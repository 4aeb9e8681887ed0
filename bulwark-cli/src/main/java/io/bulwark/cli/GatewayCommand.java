package io.bulwark.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.bulwark.core.BulwarkException;
import io.bulwark.core.metrics.Metrics;
import io.bulwark.gateway.BackendConfig;
import io.bulwark.gateway.Gateway;
import io.bulwark.gateway.GatewayConfig;
import io.bulwark.gateway.HealthCheckConfig;
import io.bulwark.node.DataDir;
import io.bulwark.node.Health;
import io.bulwark.node.Roles;
import io.bulwark.node.RunningComponents;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "gateway", mixinStandardHelpOptions = true,
    subcommands = {GatewayCommand.Servers.class, GatewayCommand.Drain.class, GatewayCommand.Ready.class, GatewayCommand.Maint.class},
    description = {"Run the load balancer in front of the API servers, or change its servers' states.",
        "",
        "With no subcommand, runs the gateway: health-checked reverse proxy with HAProxy semantics (backup servers",
        "take traffic only when no primary is up; a refused connection marks a server down at once; safe requests",
        "are retried once on another server). Subcommands talk to a running gateway's admin API."})
final class GatewayCommand implements Callable<Integer> {
  @Option(names = "--name", defaultValue = "gateway", description = "Instance name (default: ${DEFAULT-VALUE})")
  String name;

  @Option(names = "--host", defaultValue = "127.0.0.1", description = "Interface to listen on (default: ${DEFAULT-VALUE})")
  String host;

  @Option(names = "--port", defaultValue = "8080", description = "Public port (default: ${DEFAULT-VALUE})")
  int port;

  @Option(names = "--admin-port", defaultValue = "0", description = "Admin API port on 127.0.0.1 (default: any free port)")
  int adminPort;

  @Option(names = "--backend", paramLabel = "NAME=URL", description = "A primary server, e.g. api-main=http://127.0.0.1:8081 (repeatable)")
  List<String> primaries = new ArrayList<>();

  @Option(names = "--backup", paramLabel = "NAME=URL", description = "A backup server: traffic only when no primary is up (repeatable)")
  List<String> backups = new ArrayList<>();

  @Option(names = "--check-interval-ms", defaultValue = "1000", description = "Health check interval (default: ${DEFAULT-VALUE})")
  long interval;

  @Option(names = "--check-timeout-ms", defaultValue = "500", description = "Health check timeout (default: ${DEFAULT-VALUE})")
  long timeout;

  @Option(names = "--check-fast-interval-ms", defaultValue = "250", description = "Interval while a server changes state (default: ${DEFAULT-VALUE})")
  long fastInterval;

  @Option(names = "--rise", defaultValue = "2", description = "Good checks to mark a server up (default: ${DEFAULT-VALUE})")
  int rise;

  @Option(names = "--fall", defaultValue = "2", description = "Failed checks to mark a server down (default: ${DEFAULT-VALUE})")
  int fall;

  @Option(names = "--max-body-bytes", defaultValue = "16777216", paramLabel = "BYTES",
      description = "Largest request body, buffered for retries; larger get 413 (default: ${DEFAULT-VALUE}, the API's)")
  long maxBodyBytes;

  @Option(names = "--request-read-timeout", defaultValue = "10s", paramLabel = "DURATION",
      description = "Time a client has to send a whole request; also closes idle keep-alives (default: ${DEFAULT-VALUE})")
  String requestReadTimeout;

  @Option(names = "--client-idle-timeout", defaultValue = "30s", paramLabel = "DURATION",
      description = "A client that reads none of its answer for this long is cut off (default: ${DEFAULT-VALUE})")
  String clientIdleTimeout;

  @Option(names = "--upstream-timeout", defaultValue = "70s", paramLabel = "DURATION",
      description = "Deadline of a proxied request, retry included; above the API's 60 s long poll (default: ${DEFAULT-VALUE})")
  String upstreamTimeout;

  @Option(names = "--upstream-connect-timeout", defaultValue = "1s", paramLabel = "DURATION",
      description = "Time to connect to a server before trying another (default: ${DEFAULT-VALUE})")
  String upstreamConnectTimeout;

  @Option(names = "--max-connections", defaultValue = "8192", paramLabel = "N",
      description = "Client connections held at once, all clients together; one more gets 503 (default: ${DEFAULT-VALUE})")
  int maxConnections;

  @Option(names = "--max-connections-per-client", defaultValue = "1024", paramLabel = "N",
      description = "Client connections held at once from one address (default: ${DEFAULT-VALUE})")
  int maxConnectionsPerClient;

  @Option(names = "--max-client-bytes-per-second", defaultValue = "16777216", paramLabel = "BYTES",
      description = "Request bytes read per second from one client address, its connections together; reading pauses above it, 0 = no limit (default: ${DEFAULT-VALUE}, 16 MiB/s)")
  long maxClientBytesPerSecond;

  @Option(names = "--tls-cert", paramLabel = "FILE",
      description = "Serve HTTPS with this PEM certificate (chain, leaf first); needs --tls-key")
  Path tlsCert;

  @Option(names = "--tls-key", paramLabel = "FILE",
      description = "The certificate's private key: unencrypted PKCS#8 PEM (-----BEGIN PRIVATE KEY-----), mode 0600")
  Path tlsKey;

  @Override
  public Integer call() throws Exception {
    if ((tlsCert == null) != (tlsKey == null)) throw new BulwarkException("HTTPS needs both --tls-cert FILE and --tls-key FILE");
    List<BackendConfig> backends = new ArrayList<>();
    for (String b : primaries) backends.add(backend(b, false));
    for (String b : backups) backends.add(backend(b, true));
    HealthCheckConfig checks = new HealthCheckConfig(HealthCheckConfig.DEFAULT_PATH, Duration.ofMillis(interval),
        Duration.ofMillis(timeout), rise, fall, Duration.ofMillis(fastInterval));
    GatewayConfig d = GatewayConfig.defaults(name, port, adminPort, backends);
    GatewayConfig config = new GatewayConfig(name, host, port, d.adminHost(), adminPort, backends, checks, maxBodyBytes,
        DurationConverter.parse("--upstream-connect-timeout", upstreamConnectTimeout), DurationConverter.parse("--upstream-timeout", upstreamTimeout),
        DurationConverter.parse("--client-idle-timeout", clientIdleTimeout), DurationConverter.parse("--request-read-timeout", requestReadTimeout),
        new GatewayConfig.ConnectionLimits(maxConnections, maxConnectionsPerClient, maxClientBytesPerSecond),
        tlsCert == null ? null : new GatewayConfig.Tls(tlsCert, tlsKey));
    Gateway gateway = new Gateway(config, new Metrics().withJvmGauges());
    gateway.start();
    return Roles.runUntilSignalled(name, gateway::close);
  }

  private static BackendConfig backend(String spec, boolean backup) {
    int eq = spec.indexOf('=');
    if (eq < 1) throw new BulwarkException("backend must be NAME=URL, e.g. api-main=http://127.0.0.1:8081, got '" + spec + "'");
    return new BackendConfig(spec.substring(0, eq), URI.create(spec.substring(eq + 1)), backup);
  }

  /** Where a running gateway's admin API is: --admin-url, or the gateway of `bulwark up` on --data-dir. */
  abstract static class AdminClient implements Callable<Integer> {
    @Option(names = "--admin-url", description = "Admin API of the gateway, e.g. http://127.0.0.1:8079")
    String adminUrl;

    @Option(names = "--data-dir", defaultValue = DataDir.DEFAULT, paramLabel = "DIR", description = "Data directory of `bulwark up` (default: ./${DEFAULT-VALUE})")
    Path dataDir;

    String adminUrl() throws Exception {
      if (adminUrl != null) return adminUrl;
      DataDir dir = new DataDir(dataDir);
      for (JsonNode c : RunningComponents.find(dir).map(r -> r.select("gateway")).orElse(List.of())) {
        if (c.path("adminPort").asInt() > 0) return "http://127.0.0.1:" + c.path("adminPort").asInt();
      }
      throw new BulwarkException("no running built-in gateway found in " + dir.root() + "; pass --admin-url or --data-dir"
          + " (with --lb haproxy, use HAProxy's runtime API or `bulwark restart api`)");
    }

    static String send(HttpRequest request) throws Exception {
      HttpResponse<String> r = HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() >= 300) throw new BulwarkException("gateway admin API answered " + r.statusCode() + ": " + r.body());
      return r.body();
    }
  }

  @Command(name = "servers", mixinStandardHelpOptions = true, description = "List the gateway's servers: state, health, in-flight requests.")
  static final class Servers extends AdminClient {
    @Option(names = "--json", description = "Print the admin API's JSON (checks, timestamps, request counts) instead of the table")
    boolean json;

    @Override
    public Integer call() throws Exception {
      String body = send(HttpRequest.newBuilder(URI.create(adminUrl() + "/servers")).GET().build());
      com.fasterxml.jackson.databind.JsonNode servers = new ObjectMapper().readTree(body);
      if (json) {
        System.out.println(servers.toPrettyString());
        return 0;
      }
      System.out.printf("%-12s %-7s %-6s %-6s %-9s %s%n", "NAME", "BACKUP", "STATE", "HEALTH", "IN-FLIGHT", "URL");
      for (com.fasterxml.jackson.databind.JsonNode s : servers) {
        System.out.printf("%-12s %-7s %-6s %-6s %-9s %s%n", s.path("name").asText(), s.path("backup").asBoolean() ? "yes" : "no",
            s.path("state").asText(), s.path("health").asText(), s.path("inFlight").asText(), s.path("url").asText());
      }
      return 0;
    }
  }

  abstract static class SetState extends AdminClient {
    @Parameters(index = "0", paramLabel = "SERVER", description = "Server name, e.g. api-main")
    String server;

    abstract String state();

    @Override
    public Integer call() throws Exception {
      String body = send(HttpRequest.newBuilder(URI.create(adminUrl() + "/servers/" + server + "/state"))
          .POST(HttpRequest.BodyPublishers.ofString(state())).build());
      System.out.println(new ObjectMapper().readTree(body).toPrettyString());
      return 0;
    }
  }

  @Command(name = "drain", mixinStandardHelpOptions = true, description = "Stop sending new requests to a server; in-flight ones finish.")
  static final class Drain extends SetState {
    @Override String state() { return "drain"; }
  }

  @Command(name = "ready", mixinStandardHelpOptions = true, description = "Return a server to service.")
  static final class Ready extends SetState {
    @Override String state() { return "ready"; }
  }

  @Command(name = "maint", mixinStandardHelpOptions = true, description = "Take a server out of service entirely.")
  static final class Maint extends SetState {
    @Override String state() { return "maint"; }
  }
}
