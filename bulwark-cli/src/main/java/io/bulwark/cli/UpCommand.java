package io.bulwark.cli;

import io.bulwark.core.BulwarkException;
import io.bulwark.node.DataDir;
import io.bulwark.node.LocalDeployment;
import io.bulwark.node.Ports;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "up", mixinStandardHelpOptions = true,
    description = {"Start everything in the foreground: PostgreSQL, the API servers, the load balancer and workers.",
        "",
        "Each component is its own process, restarted if it dies. PostgreSQL (embedded binaries, durable settings)",
        "runs as a primary and a hot standby, pg-a and pg-b; the failover controller promotes the standby when the",
        "primary dies (see `bulwark db --help`). Ctrl-C or `bulwark down` stops everything.",
        "The first start creates an admin API key, prints it and saves it in DIR/admin.key (mode 0600).",
        "A second `up` on the same data directory reuses its database and keys."})
final class UpCommand implements Callable<Integer> {
  @Option(names = "--data-dir", defaultValue = DataDir.DEFAULT, paramLabel = "DIR", description = "Data directory (default: ./${DEFAULT-VALUE})")
  Path dataDir;

  @Option(names = "--port", defaultValue = "8080", description = "Public HTTP port (default: ${DEFAULT-VALUE})")
  int port;

  @Option(names = "--workers", defaultValue = "2", description = "Worker processes (default: ${DEFAULT-VALUE})")
  int workers;

  @Option(names = "--pg-port", defaultValue = "0", description = "PostgreSQL port (default: any free loopback port)")
  int pgPort;

  @Option(names = "--component-heap", defaultValue = "256m", description = "-Xmx of each API server and worker (default: ${DEFAULT-VALUE})")
  String heap;

  @Option(names = "--lb", defaultValue = "builtin", paramLabel = "builtin|haproxy",
      description = "Load balancer in front of api-main and api-backup: the built-in gateway, or the system's HAProxy (default: ${DEFAULT-VALUE})")
  String lb;

  @Option(names = "--standby", negatable = true, defaultValue = "true", fallbackValue = "true",
      description = {"Run PostgreSQL as a primary and a hot standby with automatic failover (default: on).",
          "--no-standby runs one node, restarted in place when it dies."})
  boolean standby;

  @Option(names = "--archive-lag", defaultValue = "3s", paramLabel = "DURATION",
      description = "Most committed WAL outside the archive: the segment is switched once unarchived WAL is this old (default: ${DEFAULT-VALUE}; e.g. 1s, 30s)")
  String archiveLag;

  @Option(names = "--backup-interval", defaultValue = "24h", paramLabel = "DURATION",
      description = "How often a base backup is taken (default: ${DEFAULT-VALUE}; the first one at the first start)")
  String backupInterval;

  @Option(names = "--backup-retention", defaultValue = "7d", paramLabel = "DURATION",
      description = "How far back a point-in-time restore can go (default: ${DEFAULT-VALUE}, the plan's window)")
  String retention;

  @Option(names = "--verify-interval", defaultValue = "24h", paramLabel = "DURATION",
      description = "How often the newest backup is restored into a scratch instance and checked (default: ${DEFAULT-VALUE})")
  String verifyInterval;

  @Option(names = "--dns", defaultValue = "none", paramLabel = "none|bind",
      description = {"The front door: `bind` adds a second gateway on 127.0.0.2 (same --port), a local BIND 9 serving zone",
          "bulwark.test on 127.0.0.1:--dns-port, and the DNS controller keeping api.bulwark.test on a healthy gateway",
          "(needs BIND installed: apt-get install bind9). Default: none, nothing installed needed."})
  String dns;

  @Option(names = "--storage", defaultValue = "files", paramLabel = "files|azurite",
      description = {"Where task blobs and backups live: the data directory (default), or `azurite`: two storage regions, each an",
          "Azurite (npm install -g azurite@3.37) with its own account, replicated; writes move to the other region when one",
          "fails (see `bulwark storage --help`)."})
  String storageMode;

  @Option(names = "--dns-port", defaultValue = "8053", description = "With --dns bind: BIND's port on 127.0.0.1, UDP and TCP (default: ${DEFAULT-VALUE})")
  int dnsPort;

  @Option(names = "--monitor", negatable = true, defaultValue = "true", fallbackValue = "true",
      description = {"Run the built-in monitor: every check each second, incidents with their diagnosis (`bulwark incidents`),",
          "escalation by email and webhooks when --monitor-policy says whom to tell (default: on)."})
  boolean monitor;

  @Option(names = "--monitor-policy", paramLabel = "FILE",
      description = {"The monitor's thresholds and escalation steps (TOML; `bulwark monitor policy-example` prints one). Checked,",
          "with its SMTP server, before anything starts."})
  Path monitorPolicy;

  @Option(names = "--tls", description = {"Serve the API over HTTPS. Without --tls-cert/--tls-key, a self-signed certificate for",
      "localhost and 127.0.0.1 is made once in DIR/tls/ (for local use: clients must be told to trust it)."})
  boolean tls;

  @Option(names = "--tls-cert", paramLabel = "FILE", description = "HTTPS with this PEM certificate (chain, leaf first); needs --tls-key")
  Path tlsCert;

  @Option(names = "--tls-key", paramLabel = "FILE", description = "The certificate's key: unencrypted PKCS#8 PEM, mode 0600")
  Path tlsKey;

  @Override
  public Integer call() throws Exception {
    if ((tlsCert == null) != (tlsKey == null)) throw new BulwarkException("HTTPS needs both --tls-cert FILE and --tls-key FILE (or --tls alone for a self-signed pair)");
    boolean https = tls || tlsCert != null;
    if (https && !lb.equals("builtin")) {
      throw new BulwarkException("--tls is served by the built-in gateway; with --lb haproxy, terminate TLS in HAProxy (`bind :PORT ssl crt FILE`)");
    }
    if (https && !dns.equals("none")) throw new BulwarkException("--tls with --dns bind is not supported yet (the DNS controller checks gateways over HTTP); drop one");
    if (monitorPolicy != null && !monitor) throw new BulwarkException("--monitor-policy needs the monitor; drop --no-monitor");
    if (monitorPolicy != null) MonitorCommand.loadPolicy(monitorPolicy, true); // one line now, not a crash-looping monitor later
    if (!dns.equals("none") && !dns.equals("bind")) throw new BulwarkException("--dns must be none or bind, got '" + dns + "'");
    if (dns.equals("bind") && !lb.equals("builtin")) throw new BulwarkException("--dns bind runs two built-in gateways; drop --lb " + lb);
    if (dns.equals("bind") && !io.bulwark.dns.BindServer.installed()) {
      throw new BulwarkException("--dns bind needs BIND 9's named: apt-get install bind9 (Debian/Ubuntu) or dnf install bind; or run without --dns");
    }
    if (!storageMode.equals("files") && !storageMode.equals("azurite")) {
      throw new BulwarkException("--storage must be files or azurite, got '" + storageMode + "'");
    }
    if (storageMode.equals("azurite") && !io.bulwark.azure.AzuriteServer.installed()) {
      throw new BulwarkException("--storage azurite needs Azurite: npm install -g azurite@3.37 (Node.js 18+); or run without --storage");
    }
    if (workers < 0 || workers > 64) throw new BulwarkException("--workers must be 0-64, got " + workers);
    if (port < 1 || port > 65535) throw new BulwarkException("--port must be 1-65535, got " + port);
    DataDir dir = new DataDir(dataDir);
    dir.create();
    try (FileChannel lockChannel = FileChannel.open(dir.lockFile(), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
      FileLock lock = lockChannel.tryLock();
      if (lock == null) {
        String pid = Files.exists(dir.pidFile()) ? Files.readString(dir.pidFile()).trim() : "?";
        System.err.println("bulwark: already running on " + dir.root() + " (pid " + pid + "); stop it with"
            + " `bulwark down --data-dir " + dir.root() + "` or use another --data-dir");
        return 1;
      }
      if (!Ports.isFree("127.0.0.1", port)) {
        System.err.println("bulwark: port " + port + " is already in use; stop the process using it or pass --port");
        return 1;
      }
      LocalDeployment.FrontDoor frontDoor = LocalDeployment.FrontDoor.defaults(dnsPort);
      if (dns.equals("bind") && !Ports.isFree(frontDoor.secondAddress(), port)) {
        System.err.println("bulwark: port " + port + " on " + frontDoor.secondAddress() + " (the second gateway) is in use, or that address"
            + " is not on the loopback interface; free it or pass --port");
        return 1;
      }
      if (dns.equals("bind") && !Ports.isFree("127.0.0.1", dnsPort)) {
        System.err.println("bulwark: port " + dnsPort + " (BIND) is already in use; pass --dns-port");
        return 1;
      }
      Files.writeString(dir.pidFile(), ProcessHandle.current().pid() + "\n");
      LocalDeployment.Lb balancer = switch (lb) {
        case "builtin" -> LocalDeployment.Lb.BUILTIN;
        case "haproxy" -> LocalDeployment.Lb.HAPROXY;
        default -> throw new BulwarkException("--lb must be builtin or haproxy, got '" + lb + "'");
      };
      java.util.Optional<io.bulwark.gateway.GatewayConfig.Tls> tlsFiles = !https ? java.util.Optional.empty()
          : java.util.Optional.of(tlsCert != null ? new io.bulwark.gateway.GatewayConfig.Tls(tlsCert.toAbsolutePath(), tlsKey.toAbsolutePath())
              : dir.selfSignedTls());
      LocalDeployment deployment = new LocalDeployment(dir, new LocalDeployment.Options(port, workers, pgPort, heap,
          java.util.List.of(), java.util.List.of(), balancer, standby, backupConfig(),
          dns.equals("bind") ? java.util.Optional.of(frontDoor) : java.util.Optional.empty(),
          storageMode.equals("azurite") ? LocalDeployment.Storage.AZURITE : LocalDeployment.Storage.FILES,
          !monitor ? LocalDeployment.Monitoring.OFF
              : monitorPolicy != null ? LocalDeployment.Monitoring.withPolicy(monitorPolicy) : LocalDeployment.Monitoring.DEFAULT,
          tlsFiles));
      CountDownLatch stopped = new CountDownLatch(1);
      Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().name("up-shutdown").unstarted(() -> {
        System.out.println("bulwark: stopping...");
        deployment.close();
        try {
          Files.deleteIfExists(dir.pidFile());
        } catch (IOException ignored) {
          // best effort
        }
        System.out.println("bulwark: stopped");
        System.out.flush();
        stopped.countDown();
        // Stopped on purpose (Ctrl-C, SIGTERM, `bulwark down`) and cleanly: exit 0, not the JVM's 130/143.
        Runtime.getRuntime().halt(0);
      }));
      deployment.start();
      printBanner(deployment);
      stopped.await();
      return 0;
    }
  }

  private io.bulwark.dr.BackupService.Config backupConfig() {
    try {
      return new io.bulwark.dr.BackupService.Config(DurationConverter.parse("--archive-lag", archiveLag),
          DurationConverter.parse("--backup-interval", backupInterval), DurationConverter.parse("--backup-retention", retention),
          DurationConverter.parse("--verify-interval", verifyInterval));
    } catch (io.bulwark.dr.DrException e) {
      throw new BulwarkException(e.getMessage() + "; adjust the --archive-lag/--backup-* /--verify-interval flags");
    }
  }

  private void printBanner(LocalDeployment d) {
    DataDir dir = d.dir();
    System.out.println();
    if (d.adminKeyCreated()) {
      System.out.println("  Admin API key (shown once; saved in " + dir.adminKeyFile() + ", mode 0600):");
      System.out.println("    " + d.adminKey());
      System.out.println();
    }
    var tlsFiles = d.options().tls();
    System.out.println("  Bulwark is up.  API: " + (tlsFiles.isPresent() ? "https" : "http") + "://127.0.0.1:" + port + "   data: " + dir.root());
    String curl = "curl";
    if (tlsFiles.isPresent() && tlsCert == null) {
      System.out.println("  HTTPS with a self-signed certificate, for local use only: " + tlsFiles.get().certificate());
      System.out.println("        (clients must trust it, e.g. curl --cacert; pass --tls-cert/--tls-key for a real one)");
    }
    if (tlsFiles.isPresent()) curl = "curl --cacert " + tlsFiles.get().certificate();
    System.out.println("  Try:  KEY=$(cat " + dir.adminKeyFile() + ")");
    System.out.println("        " + curl + " -H \"Authorization: Bearer $KEY\" -d '{\"type\":\"sha256\",\"input\":\"hello\"}' "
        + (tlsFiles.isPresent() ? "https://" : "") + "localhost:" + port + "/v1/tasks");
    if (!d.frontDoor().isEmpty()) {
      System.out.println("  DNS:  api.bulwark.test -> a healthy gateway (127.0.0.1 or 127.0.0.2), ttl 5 s:");
      System.out.println("        dig @127.0.0.1 -p " + dnsPort + " api.bulwark.test    ./bulwark dns status");
    }
    if (d.monitor().isPresent()) {
      System.out.println("  Incidents: ./bulwark incidents   (the built-in monitor; --monitor-policy FILE to be told by email/webhook)");
    }
    System.out.println("  Components: ./bulwark status   logs: " + dir.logs() + "   stop: Ctrl-C or ./bulwark down");
    System.out.println();
    System.out.flush();
  }
}
