package io.bulwark.cluster.spec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClusterSpecTest {
  static final String ONE = """
      name = "solo"
      [database]
      url = "jdbc:postgresql://127.0.0.1:5432/bulwark"
      password-file = "/tmp/pw"
      [storage]
      blobs = "file:/tmp/blobs"
      [[nodes]]
      name = "host-a"
      address = "127.0.0.1"
      runs = ["postgres", "api", "gateway", "worker"]
      """;

  static String threeNodes(String extraNodeLines) {
    return """
        name = "prod"
        [etcd]
        endpoints = ["http://127.0.0.11:2379", "http://127.0.0.12:2379", "http://127.0.0.13:2379"]
        [archive]
        uri = "file:/tmp/archive"
        [database]
        url = "jdbc:postgresql://127.0.0.11:5432,127.0.0.12:5432/bulwark?targetServerType=primary"
        password-file = "/tmp/pw"
        [storage]
        blobs = "file:/tmp/blobs"
        [[nodes]]
        name = "host-a"
        address = "127.0.0.11"
        runs = ["postgres", "api", "gateway", "worker"]
        [[nodes]]
        name = "host-b"
        address = "127.0.0.12"
        runs = ["postgres", "api", "worker"]
        """ + extraNodeLines;
  }

  static void refused(String text, String message) {
    assertThatThrownBy(() -> ClusterSpec.parse(text, "cluster.toml")).isInstanceOf(ClusterSpecException.class)
        .hasMessageStartingWith("cluster.toml: ").hasMessageContaining(message)
        .satisfies(e -> assertThat(e.getMessage()).as("one line").doesNotContain("\n"));
  }

  @Test
  void the_printed_example_is_a_valid_three_host_cluster() {
    ClusterSpec spec = ClusterSpec.parse(ClusterSpec.example(), "example");
    assertThat(spec.name()).isEqualTo("prod");
    assertThat(spec.nodes()).extracting(ClusterSpec.Node::name).containsExactly("host-a", "host-b", "host-c");
    assertThat(spec.running(Role.API)).extracting(ClusterSpec.Node::name).containsExactly("host-a", "host-b");
    assertThat(spec.running(Role.POSTGRES)).extracting(ClusterSpec.Node::name).containsExactly("host-a", "host-b");
    assertThat(spec.archive().uri()).startsWith("file:");
    assertThat(spec.database().url()).startsWith("jdbc:postgresql://");
    assertThat(spec.node("host-c").workers()).isEqualTo(4);
    assertThat(spec.node("host-a").ports()).isEqualTo(ClusterSpec.Ports.DEFAULTS);
    assertThat(spec.etcd().endpoints()).hasSize(3);
    assertThat(spec.etcdPrefix()).isEqualTo("/bulwark/prod/");
  }

  @Test
  void a_tls_table_makes_the_apps_verify_the_database_and_needs_all_three_files() {
    String tls = "[tls]\nca = \"/etc/b/ca crt.pem\"\ncert = \"/etc/b/node.crt\"\nkey = \"/etc/b/node.key\"\n";
    ClusterSpec spec = ClusterSpec.parse(threeNodes("").replaceFirst("\\[\\[nodes]]", tls + "[[nodes]]"), "x");
    assertThat(spec.jdbcUrl()).isEqualTo("jdbc:postgresql://127.0.0.11:5432,127.0.0.12:5432/bulwark?targetServerType=primary"
        + "&sslmode=verify-full&sslrootcert=%2Fetc%2Fb%2Fca+crt.pem");
    assertThat(ClusterSpec.parse(threeNodes(""), "x").jdbcUrl()).as("no [tls]: the url as written").doesNotContain("ssl");
    refused(threeNodes("").replaceFirst("\\[\\[nodes]]", "[tls]\nca = \"/etc/b/ca.crt\"\n[[nodes]]"), "[tls] needs ca, cert and key");
  }

  @Test
  void a_one_node_cluster_needs_no_etcd_and_ports_default_per_component() {
    ClusterSpec spec = ClusterSpec.parse(ONE, "solo.toml");
    assertThat(spec.etcd().endpoints()).isEmpty();
    assertThat(spec.node("host-a").workers()).isEqualTo(2);
    assertThat(ClusterSpec.portsInUse(spec.node("host-a"))).containsEntry("api", 8081).containsEntry("worker-2", 8092);
  }

  @Test
  void ports_set_for_a_node_override_only_those_components() {
    ClusterSpec spec = ClusterSpec.parse(ONE + "[nodes.ports]\napi = 9081\ngateway-admin = 9079\n", "x");
    ClusterSpec.Ports p = spec.node("host-a").ports();
    assertThat(p.api()).isEqualTo(9081);
    assertThat(p.gatewayAdmin()).isEqualTo(9079);
    assertThat(p.postgres()).isEqualTo(5432);
  }

  @Test
  void an_unknown_key_is_refused_with_its_place_and_the_keys_known_there() {
    refused(ONE.replace("address =", "adress ="), "unknown key 'adress'");
    refused(ONE.replace("address =", "adress ="), "known keys there: address, name, ports, runs, workers");
    refused("colour = \"red\"\n" + ONE, "unknown key 'colour'");
  }

  @Test
  void an_unknown_role_is_refused_with_the_roles_there_are() {
    refused(ONE.replace("\"worker\"]", "\"wroker\"]"), "unknown role 'wroker'; roles are postgres, api, gateway, worker, monitor, dns");
  }

  @Test
  void a_node_named_twice_is_refused() {
    refused(threeNodes("[[nodes]]\nname = \"host-a\"\naddress = \"127.0.0.13\"\nruns = [\"worker\"]\n"), "node 'host-a' is named twice");
  }

  @Test
  void a_port_used_twice_on_one_address_is_refused_naming_both_users() {
    refused(ONE + "[nodes.ports]\napi = 8080\n", "port 127.0.0.1:8080 is used twice, by host-a api and by host-a gateway");
    refused(threeNodes("[[nodes]]\nname = \"host-c\"\naddress = \"127.0.0.11\"\nruns = [\"api\"]\n"),
        "port 127.0.0.11:8070 is used twice, by host-a agent and by host-c agent");
  }

  @Test
  void several_nodes_without_an_etcd_endpoint_are_refused() {
    refused(threeNodes("").replaceAll("(?s)\\[etcd]\nendpoints = \\[[^]]*]\n", ""), "2 nodes but no etcd endpoint");
    refused(threeNodes("").replace("http://127.0.0.11:2379", "127.0.0.11"), "etcd endpoint '127.0.0.11' must be http(s)://host:port");
  }

  @Test
  void several_database_nodes_without_a_shared_archive_are_refused() {
    refused(threeNodes("").replace("[archive]\nuri = \"file:/tmp/archive\"\n", ""), "2 database nodes but no [archive] uri");
  }

  @Test
  void missing_and_malformed_values_are_refused_with_what_to_write() {
    refused(ONE.replace("name = \"solo\"\n", ""), "name must be set");
    refused(ONE.replace("address = \"127.0.0.1\"\n", ""), "node 'host-a' has no address");
    refused(ONE.replace("runs = [\"postgres\", \"api\", \"gateway\", \"worker\"]", "runs = []"), "node 'host-a' runs nothing");
    assertThat(ClusterSpec.parse(ONE.replace("\"postgres\", ", ""), "x").running(Role.POSTGRES)).as("an external database").isEmpty();
    refused("name = \"x\"\n[[nodes]]\nname = \"a\"\naddress = \"h\"\nruns = [\"gateway\"]\n", "no node runs postgres and there is no [database] url");
    refused(ONE.replace("[\"postgres\", \"api\", \"gateway\", \"worker\"]", "[\"postgres\", \"gateway\"]"), "a gateway but no node runs api");
    refused("name = \"x\"\n[[nodes]\n", "not valid TOML");
    refused("", "the file is empty");
    refused(ONE.replace("url = \"jdbc:postgresql://127.0.0.1:5432/bulwark\"\n", ""), "need [database] url");
    refused(ONE.replace("password-file = \"/tmp/pw\"\n", ""), "[database] needs password-file");
    refused(ONE.replace("blobs = \"file:/tmp/blobs\"\n", ""), "need [storage] blobs");
  }

  @Test
  void a_node_not_in_the_file_is_refused_with_the_names_that_are(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("cluster.toml");
    Files.writeString(file, threeNodes(""));
    ClusterSpec spec = ClusterSpec.read(file);
    assertThatThrownBy(() -> spec.node("host-z")).isInstanceOf(ClusterSpecException.class)
        .hasMessage("node 'host-z' is not in cluster 'prod'; its nodes are host-a, host-b");
    assertThatThrownBy(() -> ClusterSpec.read(dir.resolve("missing.toml"))).hasMessageContaining("does not exist; write one with `bulwark cluster init");
    assertThat(spec.running(Role.GATEWAY)).extracting(ClusterSpec.Node::name).isEqualTo(List.of("host-a"));
  }

  static final String TWO_GATEWAYS_WITH_DNS = """
      name = "front"
      [etcd]
      endpoints = ["http://127.0.0.11:2379"]
      [database]
      url = "jdbc:postgresql://127.0.0.9:5432/bulwark"
      password-file = "/tmp/pw"
      [storage]
      blobs = "file:/tmp/blobs"
      [dns]
      name = "api.example.test"
      zone = "example.test"
      server = "127.0.0.53:53"
      tsig-key-file = "/etc/bulwark/dns.key"
      [[nodes]]
      name = "host-a"
      address = "127.0.0.11"
      runs = ["api", "gateway", "dns"]
      [[nodes]]
      name = "host-b"
      address = "127.0.0.12"
      runs = ["api", "gateway", "dns"]
      """;

  @Test
  void the_dns_table_has_defaults_and_a_dns_node_gets_its_admin_port() {
    ClusterSpec spec = ClusterSpec.parse(TWO_GATEWAYS_WITH_DNS, "cluster.toml");
    assertThat(spec.dns().type()).isEqualTo("A");
    assertThat(spec.dns().ttl()).isEqualTo(5);
    assertThat(spec.dns().provider()).isEqualTo("rfc2136");
    assertThat(spec.dns().failback()).isFalse();
    assertThat(ClusterSpec.portsInUse(spec.node("host-a"))).containsEntry("dns-admin", 8069);
  }

  @Test
  void a_dns_node_without_what_it_needs_is_refused_with_what_to_write() {
    refused(TWO_GATEWAYS_WITH_DNS.replaceAll("(?s)\\[dns\\].*?tsig-key-file = \"/etc/bulwark/dns.key\"\n", ""), "a node runs dns but there is no [dns] table");
    refused(TWO_GATEWAYS_WITH_DNS.replace("server = \"127.0.0.53:53\"\n", ""), "provider rfc2136 needs server");
    refused(TWO_GATEWAYS_WITH_DNS.replace("zone = \"example.test\"\n", "zone = \"example.test\"\ntype = \"MX\"\n"),
        "type 'MX' cannot point a name at a gateway");
    refused(TWO_GATEWAYS_WITH_DNS.replace("zone = \"example.test\"\n", "zone = \"example.test\"\nprovider = \"route53\"\n"),
        "provider must be rfc2136 or cloudflare");
    refused(TWO_GATEWAYS_WITH_DNS.replace("runs = [\"api\", \"gateway\", \"dns\"]\n[[nodes]]", "runs = [\"api\", \"dns\"]\n[[nodes]]"),
        "1 node(s) run gateway; run gateway on at least two nodes");
    refused(TWO_GATEWAYS_WITH_DNS + """
        [nodes.ports]
        gateway = 9090
        """, "listen on different ports");
    refused(TWO_GATEWAYS_WITH_DNS.replace("zone = \"example.test\"\n", "zone = \"example.test\"\nttl = 0\n"), "ttl must be 1-86400");
  }
}
