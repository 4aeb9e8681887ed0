package io.bulwark.embedded;

import io.bulwark.core.io.Fs;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The server's configuration as Bulwark writes it: the defaults, which settings are refused and why
 * (durability cannot be turned off), the include lines that make {@code bulwark.conf} and the run-time
 * file last in {@code postgresql.conf}, and the block of {@code pg_hba.conf} that lets a cluster's other
 * hosts in. Static and pure but for the files it writes; {@link EmbeddedPostgres} is the facade.
 */
final class ServerSettings {
  private ServerSettings() {}

  static final String RUNTIME_INCLUDE_LINE = "include_if_exists = '" + EmbeddedPostgres.RUNTIME_CONF_FILE + "'";
  static final String INCLUDE_LINE = "include_if_exists = '" + EmbeddedPostgres.CONF_FILE + "'";
  static final Pattern SETTING_NAME =
      Pattern.compile("[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)?");
  private static final Set<String> TRUE_BOOL = Set.of("on", "true", "tru", "tr", "t", "yes", "ye", "y", "1");
  private static final Set<String> DURABLE_SYNCHRONOUS_COMMIT =
      Set.of("on", "true", "yes", "1", "local", "remote_write", "remote_apply");
  /** Passed with -c as well, so that no configuration file can turn them off. */
  static final List<String> PROTECTED = List.of("fsync", "synchronous_commit", "full_page_writes");
  static Map<String, String> defaultSettings() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("fsync", "on");
    m.put("synchronous_commit", "on");
    m.put("full_page_writes", "on");
    m.put("wal_level", "replica");
    m.put("listen_addresses", EmbeddedPostgres.LOOPBACK);
    m.put("unix_socket_directories", "");
    m.put("max_connections", "200");
    m.put("shared_buffers", "256MB");
    m.put("max_wal_size", "2GB");
    m.put("checkpoint_timeout", "15min");
    m.put("log_destination", "stderr");
    m.put("logging_collector", "off");
    m.put("log_line_prefix", "%m [%p] ");
    return Collections.unmodifiableMap(m);
  }

  /** Returns the normalized (lower-case) name, or throws explaining why the setting is refused. */
  static String checkSetting(String name, String value) {
    Objects.requireNonNull(name, "setting name");
    Objects.requireNonNull(value, "value of setting " + name);
    if (!SETTING_NAME.matcher(name).matches()) {
      throw new EmbeddedPostgresException(
          "setting name '" + name + "' is not a PostgreSQL parameter name (letters, digits, '_',"
              + " optionally 'prefix.name')");
    }
    String key = name.toLowerCase(Locale.ROOT);
    if (value.indexOf('\n') >= 0 || value.indexOf('\r') >= 0 || value.indexOf('\0') >= 0) {
      throw new EmbeddedPostgresException("value of setting " + key + " must be a single line without NUL characters");
    }
    String v = value.strip().toLowerCase(Locale.ROOT);
    switch (key) {
      case "fsync" -> {
        if (!TRUE_BOOL.contains(v)) {
          throw new EmbeddedPostgresException(
              "fsync='" + value + "' is refused: without fsync PostgreSQL acknowledges commits it has"
                  + " not forced to disk, so a crash or power loss loses acknowledged transactions and"
                  + " can corrupt the database beyond repair. Bulwark only runs PostgreSQL durably;"
                  + " remove the setting (fsync is always on)");
        }
      }
      case "full_page_writes" -> {
        if (!TRUE_BOOL.contains(v)) {
          throw new EmbeddedPostgresException(
              "full_page_writes='" + value + "' is refused: a crash in the middle of a page write"
                  + " then leaves torn pages that crash recovery cannot repair, losing committed data."
                  + " Bulwark only runs PostgreSQL durably; remove the setting (full_page_writes is"
                  + " always on)");
        }
      }
      case "synchronous_commit" -> {
        if (!DURABLE_SYNCHRONOUS_COMMIT.contains(v)) {
          throw new EmbeddedPostgresException(
              "synchronous_commit='" + value + "' is refused: PostgreSQL would acknowledge commits"
                  + " before their WAL is flushed to disk, so a crash loses the most recently"
                  + " acknowledged transactions. Allowed values: on, local, remote_write,"
                  + " remote_apply");
        }
      }
      case "port" ->
          throw new EmbeddedPostgresException("set the port with port(int), not setting(\"port\", ...)");
      case "data_directory", "config_file", "hba_file", "ident_file" ->
          throw new EmbeddedPostgresException(
              "setting " + key + " is managed by the launcher (the data directory is dataDir)");
      case "listen_addresses" -> {
        List<String> addresses = List.of(v.split("\\s*,\\s*"));
        if (addresses.stream().noneMatch(a -> Set.of("127.0.0.1", "localhost", "*", "0.0.0.0").contains(a))) {
          throw new EmbeddedPostgresException(
              "listen_addresses='" + value + "' must include 127.0.0.1 (or localhost, 0.0.0.0, *):"
                  + " the launcher and local clients connect to 127.0.0.1");
        }
      }
      default -> {}
    }
    return key;
  }

  static void ensureIncludeLine(Path dir) throws IOException {
    Path conf = dir.resolve("postgresql.conf");
    String text = Files.readString(conf, StandardCharsets.UTF_8);
    List<String> lines = text.lines().map(String::strip).toList();
    boolean hasMain = lines.contains(INCLUDE_LINE);
    boolean hasRuntime = lines.contains(RUNTIME_INCLUDE_LINE);
    if (hasMain && hasRuntime) {
      return;
    }
    StringBuilder addition = new StringBuilder(text.endsWith("\n") ? "" : "\n");
    if (!hasMain) {
      addition.append("\n# Bulwark: settings managed by the launcher, rewritten on every start (keep this last)\n")
          .append(INCLUDE_LINE).append('\n');
    }
    addition.append("# Bulwark: settings changed at run time (e.g. synchronous_standby_names), applied on reload\n")
        .append(RUNTIME_INCLUDE_LINE).append('\n');
    Fs.writeAtomically(conf, (text + addition).getBytes(StandardCharsets.UTF_8));
  }

  static String quote(String value) {
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'";
  }

  static final String HBA_BEGIN = "# bulwark: other hosts of the cluster (rewritten on every start)";
  static final String HBA_END = "# bulwark: end";
  /**
   * Keeps the block of {@code pg_hba.conf} that lets the cluster's other hosts in (clients and
   * replication, scram-sha-256 like the loopback lines initdb wrote; TLS only when {@code overTls}), rewritten from {@link
   * EmbeddedPostgres.Builder#clientHosts} on every start; the rest of the file is the operator's.
   */
  static void writeHba(Path dataDir, List<String> clientHosts, boolean overTls) throws IOException {
    Path hba = dataDir.resolve("pg_hba.conf");
    if (!Files.exists(hba)) return;
    String text = Files.readString(hba, StandardCharsets.UTF_8);
    int begin = text.indexOf(HBA_BEGIN);
    int end = text.indexOf(HBA_END);
    String kept = begin >= 0 && end > begin ? text.substring(0, begin) + text.substring(end + HBA_END.length()).replaceFirst("^\\n", "") : text;
    StringBuilder sb = new StringBuilder(kept.endsWith("\n") || kept.isEmpty() ? kept : kept + "\n");
    if (!clientHosts.isEmpty()) {
      sb.append(HBA_BEGIN).append('\n');
      for (String host : clientHosts) {
        String address = host.indexOf(':') >= 0 ? host + "/128" : host.matches("[0-9.]+") ? host + "/32" : host;
        String type = overTls ? "hostssl" : "host   ";
        sb.append(type).append(" all             all             ").append(address).append("    scram-sha-256\n");
        sb.append(type).append(" replication     all             ").append(address).append("    scram-sha-256\n");
      }
      sb.append(HBA_END).append('\n');
    }
    if (!sb.toString().equals(text)) Fs.writeAtomically(hba, sb.toString().getBytes(StandardCharsets.UTF_8));
  }
}
