package io.bulwark.cluster.spec;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The cluster as data: which hosts (nodes) there are, what each runs and on which ports, where etcd
 * is and where the shared archive is. Read from a TOML file ({@code bulwark cluster init} prints a
 * commented example, {@code bulwark cluster check FILE} validates one); every agent reads the same
 * file. Validated as a whole when read, so that a mistake stops every agent at start with one line
 * naming it, never halfway through a failover.
 *
 * @param name the cluster's name; its state in etcd lives under {@code /bulwark/<name>/}
 */
public record ClusterSpec(String name, Etcd etcd, Archive archive, Database database, Storage storage, Dns dns, Monitor monitor,
    Tls tls, List<Node> nodes) {
  static final Pattern NAME = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");
  private static final TomlMapper TOML = TomlMapper.builder()
      .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
      .build();

  /** @param endpoints client URLs of the etcd members (http://host:2379); every agent may use any */
  public record Etcd(List<String> endpoints) {
    public Etcd {
      endpoints = endpoints == null ? List.of() : List.copyOf(endpoints);
    }
  }

  /** @param uri the blob store holding the WAL archive and base backups, shared by every database node */
  public record Archive(String uri) {}

  /**
   * The database the API servers and workers use.
   *
   * @param url its JDBC URL, listing every database node with {@code targetServerType=primary}
   * @param user the role they connect as (default bulwark)
   * @param passwordFile a file (mode 0600) holding its password, the same on every host; never the
   *     password itself, which would then be in a file that is copied around and shown
   */
  public record Database(String url, String user, @JsonProperty("password-file") String passwordFile) {
    public Database {
      user = user == null ? "bulwark" : user;
    }
  }

  /**
   * Where large inputs and results are kept, shared by every API server and worker.
   *
   * @param blobs one store: {@code file:/path} (a file system every such host mounts) or {@code azure://ACCOUNT/CONTAINER}
   * @param regions or two regions replicated, {@code ["a=azure://ACCOUNT_A/blobs", "b=azure://ACCOUNT_B/blobs"]}: inputs
   *     in both before the 202, the region choice in etcd (one agent, holding the storage lease, switches it)
   */
  public record Storage(String blobs, List<String> regions) {
    public Storage {
      regions = regions == null ? List.of() : List.copyOf(regions);
    }

    /** Whether the blobs are in two replicated regions. */
    public boolean replicated() {
      return !regions.isEmpty();
    }
  }

  /**
   * The front door: the name clients use, kept on a healthy gateway by the node that runs {@code dns}
   * (of several, the one holding the cluster's DNS lease).
   *
   * @param name the name, e.g. api.example.com
   * @param zone the zone it is in
   * @param type A (default), AAAA or CNAME
   * @param ttl the record's ttl in seconds (default 5): how long resolvers keep the old gateway
   * @param provider rfc2136 (default: a server taking TSIG-signed dynamic updates) or cloudflare
   * @param server rfc2136: the zone's primary server, host:port
   * @param tsigKeyFile rfc2136: the TSIG key in BIND's format (tsig-keygen), mode 0600
   * @param cloudflareZoneId cloudflare: the zone's id
   * @param cloudflareTokenFile cloudflare: a file holding an API token with Zone.DNS:Edit
   * @param cloudflareApi cloudflare: the API's base URL (default https://api.cloudflare.com/client/v4)
   * @param proxied cloudflare: proxy the record (default false)
   * @param failback return to the first gateway once it is healthy again (default false)
   */
  public record Dns(String name, String zone, String type, Integer ttl, String provider, String server,
      @JsonProperty("tsig-key-file") String tsigKeyFile, @JsonProperty("cloudflare-zone-id") String cloudflareZoneId,
      @JsonProperty("cloudflare-token-file") String cloudflareTokenFile, @JsonProperty("cloudflare-api") String cloudflareApi,
      Boolean proxied, Boolean failback) {
    public Dns {
      type = type == null ? "A" : type;
      ttl = ttl == null ? 5 : ttl;
      provider = provider == null ? "rfc2136" : provider;
      cloudflareApi = cloudflareApi == null ? "https://api.cloudflare.com/client/v4" : cloudflareApi;
      proxied = proxied != null && proxied;
      failback = failback != null && failback;
    }
  }

  /**
   * The built-in monitor, run by the agent of each node that runs {@code monitor} (best on a host of
   * its own, so that it does not die with what it watches).
   *
   * @param policy its thresholds and escalation file on that host (TOML, see `bulwark monitor
   *     policy-example`); none: incidents are kept and shown, nobody is told
   */
  public record Monitor(String policy) {}

  /**
   * TLS between hosts for the database: PostgreSQL serves it on every database node and accepts other
   * hosts only over it ({@code hostssl}); API servers, workers and standbys connect with {@code
   * sslmode=verify-full}, so a server whose certificate the CA did not sign, or that does not name the
   * address connected to, is refused. The same paths on every host (each host its own files).
   *
   * @param ca the PEM certificate(s) clients trust (a CA, or one self-signed certificate for all nodes)
   * @param cert this host's certificate (PEM), naming its address in subjectAltName
   * @param key its key (PEM, mode 0600)
   */
  public record Tls(String ca, String cert, String key) {}

  /**
   * One host.
   *
   * @param name unique in the cluster; the agent is started with {@code --node NAME}
   * @param address where the other nodes and the clients reach it (an IP address or host name)
   * @param runs what it runs
   * @param workers worker processes, when it runs {@code worker} (default 2)
   * @param ports ports of its components (defaults: {@link Ports#DEFAULTS})
   */
  public record Node(String name, String address, List<Role> runs, Integer workers, Ports ports) {
    public Node {
      runs = runs == null ? List.of() : List.copyOf(runs);
      workers = workers == null ? 2 : workers;
      ports = ports == null ? Ports.DEFAULTS : ports.orDefaults();
    }

    public boolean runs(Role role) {
      return runs.contains(role);
    }
  }

  /** Ports of one node's components; each unset one takes its default. */
  public record Ports(Integer postgres, Integer api, Integer gateway, @JsonProperty("gateway-admin") Integer gatewayAdmin,
      Integer worker, Integer agent, @JsonProperty("dns-admin") Integer dnsAdmin, @JsonProperty("monitor-admin") Integer monitorAdmin) {
    public static final Ports DEFAULTS = new Ports(5432, 8081, 8080, 8079, 8091, 8070, 8069, 8068);

    Ports orDefaults() {
      return new Ports(or(postgres, DEFAULTS.postgres), or(api, DEFAULTS.api), or(gateway, DEFAULTS.gateway),
          or(gatewayAdmin, DEFAULTS.gatewayAdmin), or(worker, DEFAULTS.worker), or(agent, DEFAULTS.agent), or(dnsAdmin, DEFAULTS.dnsAdmin),
          or(monitorAdmin, DEFAULTS.monitorAdmin));
    }

    private static Integer or(Integer value, Integer fallback) {
      return value == null ? fallback : value;
    }
  }

  public ClusterSpec {
    nodes = nodes == null ? List.of() : List.copyOf(nodes);
  }

  /** Reads and validates a cluster file. */
  public static ClusterSpec read(Path file) {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new ClusterSpecException("cluster file " + file + " does not exist; write one with `bulwark cluster init > " + file + "`");
    } catch (IOException e) {
      throw new ClusterSpecException("cannot read cluster file " + file + ": " + e.getMessage(), e);
    }
    return parse(text, file.toString());
  }

  /** Parses and validates a cluster file's text; {@code origin} names it in errors. */
  public static ClusterSpec parse(String text, String origin) {
    if (text.lines().map(l -> l.replaceFirst("#.*", "")).allMatch(String::isBlank)) {
      throw new ClusterSpecException(origin + ": the file is empty; see `bulwark cluster init`");
    }
    ClusterSpec spec;
    try {
      spec = TOML.readValue(text, ClusterSpec.class);
    } catch (UnrecognizedPropertyException e) {
      throw new ClusterSpecException(origin + ": unknown key '" + e.getPropertyName() + "'" + where(e) + "; known keys there: "
          + e.getKnownPropertyIds().stream().map(String::valueOf).sorted().collect(Collectors.joining(", ")));
    } catch (JsonMappingException e) {
      String cause = e.getCause() instanceof IllegalArgumentException iae ? iae.getMessage() : e.getOriginalMessage();
      throw new ClusterSpecException(origin + ": " + cause.lines().findFirst().orElse(cause) + where(e));
    } catch (IOException e) {
      throw new ClusterSpecException(origin + ": not valid TOML (" + e.getMessage().lines().findFirst().orElse("") + ")", e);
    }
    spec.validate(origin);
    return spec;
  }

  private static String where(JsonMappingException e) {
    String path = e.getPath().stream()
        .map(ref -> ref.getFieldName() != null ? ref.getFieldName() : "[" + ref.getIndex() + "]")
        .collect(Collectors.joining(".")).replace(".[", "[");
    String line = e.getLocation() != null && e.getLocation().getLineNr() > 0 ? ", line " + e.getLocation().getLineNr() : "";
    return path.isEmpty() && line.isEmpty() ? "" : " (at " + (path.isEmpty() ? "" : path) + line.replaceFirst("^, ", path.isEmpty() ? "" : ", ") + ")";
  }

  private void validate(String origin) {
    if (name == null || !NAME.matcher(name).matches()) {
      throw new ClusterSpecException(origin + ": name must be set to lower-case letters, digits and '-' (e.g. name = \"prod\"), got "
          + (name == null ? "nothing" : "'" + name + "'"));
    }
    if (nodes.isEmpty()) throw new ClusterSpecException(origin + ": no [[nodes]]; name at least one node");
    Set<String> names = new HashSet<>();
    Map<String, String> portOwners = new HashMap<>(); // address:port -> node/role
    for (Node n : nodes) {
      if (n.name() == null || !NAME.matcher(n.name()).matches()) {
        throw new ClusterSpecException(origin + ": a node's name must be lower-case letters, digits and '-', got "
            + (n.name() == null ? "nothing" : "'" + n.name() + "'"));
      }
      if (!names.add(n.name())) throw new ClusterSpecException(origin + ": node '" + n.name() + "' is named twice; node names are unique");
      if (n.address() == null || n.address().isBlank()) {
        throw new ClusterSpecException(origin + ": node '" + n.name() + "' has no address; set address = \"10.0.0.11\" (how the others reach it)");
      }
      if (n.runs().isEmpty()) {
        throw new ClusterSpecException(origin + ": node '" + n.name() + "' runs nothing; set runs = [\"postgres\", \"api\", ...]");
      }
      if (n.workers() < 1 && n.runs(Role.WORKER)) {
        throw new ClusterSpecException(origin + ": node '" + n.name() + "' runs workers but workers = " + n.workers() + "; set 1 or more");
      }
      for (Map.Entry<String, Integer> port : portsInUse(n).entrySet()) {
        int p = port.getValue();
        if (p < 1 || p > 65535) {
          throw new ClusterSpecException(origin + ": node '" + n.name() + "': port " + p + " of " + port.getKey() + " is not in 1-65535");
        }
        String owner = n.name() + " " + port.getKey();
        String previous = portOwners.putIfAbsent(n.address() + ":" + p, owner);
        if (previous != null) {
          throw new ClusterSpecException(origin + ": port " + n.address() + ":" + p + " is used twice, by " + previous + " and by " + owner);
        }
      }
    }
    if (nodes.size() > 1 && etcd().endpoints().isEmpty()) {
      throw new ClusterSpecException(origin + ": " + nodes.size() + " nodes but no etcd endpoint; set [etcd] endpoints ="
          + " [\"http://10.0.0.11:2379\", ...] (the agents decide failovers through etcd)");
    }
    for (String endpoint : etcd().endpoints()) {
      URI uri;
      try {
        uri = URI.create(endpoint);
      } catch (IllegalArgumentException e) {
        throw new ClusterSpecException(origin + ": etcd endpoint '" + endpoint + "' is not a URL; write http://host:2379");
      }
      if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) || uri.getHost() == null || uri.getPort() < 1) {
        throw new ClusterSpecException(origin + ": etcd endpoint '" + endpoint + "' must be http(s)://host:port, e.g. http://10.0.0.11:2379");
      }
    }
    long databases = nodes.stream().filter(n -> n.runs(Role.POSTGRES)).count();
    if (databases == 0 && (database == null || database.url() == null)) {
      throw new ClusterSpecException(origin + ": no node runs postgres and there is no [database] url; add \"postgres\" to a node's"
          + " runs, or name an existing database in [database] url");
    }
    if (databases > 1 && (archive == null || archive.uri() == null || archive.uri().isBlank())) {
      throw new ClusterSpecException(origin + ": " + databases + " database nodes but no [archive] uri; standbys are seeded from the"
          + " shared archive: set [archive] uri = \"file:/mnt/bulwark-archive\"");
    }
    boolean appNodes = nodes.stream().anyMatch(n -> n.runs(Role.API) || n.runs(Role.WORKER));
    if (appNodes && (database == null || database.url() == null || !database.url().startsWith("jdbc:postgresql://"))) {
      throw new ClusterSpecException(origin + ": API servers and workers need [database] url = \"jdbc:postgresql://host:5432/bulwark\"");
    }
    if (appNodes && (database.passwordFile() == null || database.passwordFile().isBlank())) {
      throw new ClusterSpecException(origin + ": [database] needs password-file = \"/etc/bulwark/db-password\" (a 0600 file, the"
          + " same on every host)");
    }
    if (appNodes && storage != null && storage.replicated()) {
      validateRegions(origin, storage.regions());
    } else if (appNodes && (storage == null || storage.blobs() == null
        || !(storage.blobs().startsWith("file:") || storage.blobs().startsWith("azure://")))) {
      throw new ClusterSpecException(origin + ": API servers and workers need [storage] blobs = \"file:/mnt/bulwark-blobs\" (shared"
          + " by every host that runs them)");
    }
    if (nodes.stream().anyMatch(n -> n.runs(Role.GATEWAY)) && nodes.stream().noneMatch(n -> n.runs(Role.API))) {
      throw new ClusterSpecException(origin + ": a gateway but no node runs api; add \"api\" to a node's runs");
    }
    validateDns(origin);
    if (tls != null && (blank(tls.ca()) || blank(tls.cert()) || blank(tls.key()))) {
      throw new ClusterSpecException(origin + ": [tls] needs ca, cert and key, e.g. ca = \"/etc/bulwark/tls/ca.crt\", cert ="
          + " \"/etc/bulwark/tls/node.crt\", key = \"/etc/bulwark/tls/node.key\"");
    }
  }

  private static boolean blank(String s) {
    return s == null || s.isBlank();
  }

  private static void validateRegions(String origin, List<String> regions) {
    if (regions.size() != 2) {
      throw new ClusterSpecException(origin + ": [storage] regions names two regions, e.g. [\"a=azure://bulwarka/blobs\", \"b=azure://bulwarkb/blobs\"];"
          + " got " + regions.size());
    }
    Set<String> names = new HashSet<>();
    for (String r : regions) {
      int eq = r.indexOf('=');
      if (eq < 1 || !NAME.matcher(r.substring(0, eq)).matches() || !r.substring(eq + 1).contains(":")) {
        throw new ClusterSpecException(origin + ": [storage] regions entry '" + r + "' must be NAME=URI, e.g. a=azure://bulwarka/blobs");
      }
      if (!names.add(r.substring(0, eq))) throw new ClusterSpecException(origin + ": [storage] regions names region '" + r.substring(0, eq) + "' twice");
    }
  }

  private void validateDns(String origin) {
    boolean runsDns = nodes.stream().anyMatch(n -> n.runs(Role.DNS));
    if (!runsDns) return;
    if (dns == null) {
      throw new ClusterSpecException(origin + ": a node runs dns but there is no [dns] table; set at least [dns] name = \"api.example.com\","
          + " zone = \"example.com\", server = \"10.0.0.53:53\", tsig-key-file = \"/etc/bulwark/dns.key\"");
    }
    if (dns.name() == null || dns.zone() == null) {
      throw new ClusterSpecException(origin + ": [dns] needs name (e.g. \"api.example.com\") and zone (e.g. \"example.com\")");
    }
    if (!List.of("A", "AAAA", "CNAME").contains(dns.type().toUpperCase(java.util.Locale.ROOT))) {
      throw new ClusterSpecException(origin + ": [dns] type '" + dns.type() + "' cannot point a name at a gateway; use A, AAAA or CNAME");
    }
    if (dns.ttl() < 1 || dns.ttl() > 86_400) throw new ClusterSpecException(origin + ": [dns] ttl must be 1-86400 seconds, got " + dns.ttl());
    switch (dns.provider()) {
      case "rfc2136" -> {
        if (dns.server() == null || dns.tsigKeyFile() == null) {
          throw new ClusterSpecException(origin + ": [dns] provider rfc2136 needs server = \"host:port\" and tsig-key-file = \"/etc/bulwark/dns.key\"");
        }
      }
      case "cloudflare" -> {
        if (dns.cloudflareZoneId() == null || dns.cloudflareTokenFile() == null) {
          throw new ClusterSpecException(origin + ": [dns] provider cloudflare needs cloudflare-zone-id and cloudflare-token-file");
        }
      }
      default -> throw new ClusterSpecException(origin + ": [dns] provider must be rfc2136 or cloudflare, got '" + dns.provider() + "'");
    }
    List<Node> gateways = running(Role.GATEWAY);
    if (gateways.size() < 2 || gateways.stream().map(Node::address).distinct().count() < gateways.size()) {
      throw new ClusterSpecException(origin + ": a node runs dns, which switches the name between gateways, but "
          + (gateways.size() < 2 ? gateways.size() + " node(s) run gateway; run gateway on at least two nodes"
              : "two gateway nodes share an address; a DNS record tells gateways apart by address"));
    }
    if (gateways.stream().map(n -> n.ports().gateway()).distinct().count() > 1) {
      throw new ClusterSpecException(origin + ": the gateways behind [dns] name listen on different ports ("
          + gateways.stream().map(n -> n.name() + ":" + n.ports().gateway()).collect(Collectors.joining(", "))
          + "); a DNS record holds addresses, not ports, so clients use one port for all: give them the same gateway port");
    }
  }

  /** The ports a node's components listen on, by component (agent, postgres, api, ..., worker-1, worker-2). */
  public static Map<String, Integer> portsInUse(Node n) {
    Map<String, Integer> used = new java.util.LinkedHashMap<>();
    Ports p = n.ports();
    used.put("agent", p.agent());
    if (n.runs(Role.POSTGRES)) used.put("postgres", p.postgres());
    if (n.runs(Role.API)) used.put("api", p.api());
    if (n.runs(Role.GATEWAY)) {
      used.put("gateway", p.gateway());
      used.put("gateway-admin", p.gatewayAdmin());
    }
    if (n.runs(Role.WORKER)) for (int i = 0; i < n.workers(); i++) used.put("worker-" + (i + 1), p.worker() + i);
    if (n.runs(Role.DNS)) used.put("dns-admin", p.dnsAdmin());
    if (n.runs(Role.MONITOR)) used.put("monitor-admin", p.monitorAdmin());
    return used;
  }

  /**
   * The JDBC URL API servers and workers use: {@code [database] url}, with {@code sslmode=verify-full}
   * and {@code sslrootcert} added when there is a {@code [tls]} table (unless the url sets sslmode).
   */
  public String jdbcUrl() {
    String url = database.url();
    if (tls == null || url.contains("sslmode=")) return url;
    String ca = java.net.URLEncoder.encode(Path.of(tls.ca()).toAbsolutePath().toString(), StandardCharsets.UTF_8);
    return url + (url.contains("?") ? "&" : "?") + "sslmode=verify-full&sslrootcert=" + ca;
  }

  public Etcd etcd() {
    return etcd == null ? new Etcd(List.of()) : etcd;
  }

  /** The node called {@code nodeName}; a name that is not in the file is an error listing those that are. */
  public Node node(String nodeName) {
    return find(nodeName).orElseThrow(() -> new ClusterSpecException("node '" + nodeName + "' is not in cluster '" + name
        + "'; its nodes are " + nodes.stream().map(Node::name).collect(Collectors.joining(", "))));
  }

  public Optional<Node> find(String nodeName) {
    return nodes.stream().filter(n -> n.name().equals(nodeName)).findFirst();
  }

  /** The nodes that run {@code role}, in the file's order. */
  public List<Node> running(Role role) {
    List<Node> out = new ArrayList<>();
    for (Node n : nodes) if (n.runs(role)) out.add(n);
    return out;
  }

  /** The etcd key prefix of this cluster's state. */
  public String etcdPrefix() {
    return "/bulwark/" + name + "/";
  }

  /** The commented example {@code bulwark cluster init} prints: three hosts, as in the DR plan. */
  public static String example() {
    try (InputStream in = Objects.requireNonNull(ClusterSpec.class.getResourceAsStream("example-cluster.toml"))) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
