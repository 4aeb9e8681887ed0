package io.bulwark.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.bulwark.core.BulwarkException;
import io.bulwark.node.DataDir;
import io.bulwark.node.RunningComponents;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "nagios-config", mixinStandardHelpOptions = true,
    description = {"Print a Nagios (Icinga, Naemon) object configuration that runs Bulwark's checks for the deployment on",
        "--data-dir: a host, one service per component and one per deployment-wide check, dependencies (a dead database",
        "pages once, not once per API server) and escalations (managers first, then developers).",
        "With --write DIR, also write a minimal nagios.cfg there that runs it on its own: nagios4 DIR/nagios.cfg."})
final class NagiosConfigCommand implements Callable<Integer> {
  @Option(names = "--data-dir", defaultValue = DataDir.DEFAULT, paramLabel = "DIR", description = "Data directory (default: ./${DEFAULT-VALUE})")
  Path dataDir;

  @Option(names = "--bulwark", paramLabel = "PATH", description = "The bulwark launcher Nagios runs (default: ./bulwark, absolute)")
  Path launcher;

  @Option(names = "--manager-email", defaultValue = "manager@example.com", description = "First to be told (default: ${DEFAULT-VALUE})")
  String managerEmail;

  @Option(names = "--developer-email", defaultValue = "developers@example.com",
      description = "Told when a problem lasts past the first notifications (default: ${DEFAULT-VALUE})")
  String developerEmail;

  @Option(names = "--check-interval", defaultValue = "5", description = "Seconds between checks while OK (default: ${DEFAULT-VALUE})")
  int checkInterval;

  @Option(names = "--write", paramLabel = "DIR", description = "Write bulwark.cfg and a minimal nagios.cfg into DIR instead of printing")
  Path write;

  @Override
  public Integer call() throws Exception {
    DataDir dir = new DataDir(dataDir);
    List<String> components = new ArrayList<>();
    for (JsonNode c : RunningComponents.read(dir).rows()) components.add(c.path("name").asText());
    Path bulwark = launcher != null ? launcher.toAbsolutePath() : Path.of("bulwark").toAbsolutePath();
    if (!Files.isExecutable(bulwark)) throw new BulwarkException(bulwark + " is not the bulwark launcher; pass --bulwark PATH");
    String objects = objects(bulwark, dir.root().toAbsolutePath(), components);
    if (write == null) {
      System.out.print(objects);
      return 0;
    }
    Files.createDirectories(write.resolve("checkresults"));
    Files.writeString(write.resolve("bulwark.cfg"), objects);
    Files.writeString(write.resolve("nagios.cfg"), mainConfig(write.toAbsolutePath()));
    System.out.println("wrote " + write.resolve("bulwark.cfg") + " and " + write.resolve("nagios.cfg") + "; run: nagios4 " + write.resolve("nagios.cfg"));
    return 0;
  }

  String objects(Path bulwark, Path data, List<String> components) {
    StringBuilder o = new StringBuilder("# Bulwark's checks for the deployment on " + data + " (bulwark nagios-config).\n"
        + "# Times are in seconds when interval_length=1 (as in the nagios.cfg of --write), in minutes with Nagios's default 60.\n\n");
    o.append(block("command", "command_name check_bulwark", "command_line " + bulwark + " check $ARG1$ --data-dir " + data + " $ARG2$"));
    o.append(block("command", "command_name notify_bulwark_by_log",
        "command_line /usr/bin/printf \"%b\" \"$LONGDATETIME$ $NOTIFICATIONTYPE$ $HOSTNAME$/$SERVICEDESC$ $SERVICESTATE$ to $CONTACTEMAIL$: $SERVICEOUTPUT$\\n\""
            + " >> " + data.resolve("logs/nagios-notifications.log")));
    o.append(block("timeperiod", "timeperiod_name bulwark-24x7", "alias always", "sunday 00:00-24:00", "monday 00:00-24:00",
        "tuesday 00:00-24:00", "wednesday 00:00-24:00", "thursday 00:00-24:00", "friday 00:00-24:00", "saturday 00:00-24:00"));
    for (String[] c : new String[][] {{"bulwark-manager", managerEmail}, {"bulwark-developers", developerEmail}}) {
      o.append(block("contact", "contact_name " + c[0], "email " + c[1], "host_notifications_enabled 1", "service_notifications_enabled 1",
          "host_notification_period bulwark-24x7", "service_notification_period bulwark-24x7", "host_notification_options d,u,r",
          "service_notification_options w,u,c,r,f", "host_notification_commands notify_bulwark_by_log",
          "service_notification_commands notify_bulwark_by_log"));
    }
    o.append(block("contactgroup", "contactgroup_name bulwark-managers", "members bulwark-manager"));
    o.append(block("contactgroup", "contactgroup_name bulwark-developers", "members bulwark-developers"));
    o.append(block("host", "host_name bulwark", "alias the Bulwark deployment on " + data, "address 127.0.0.1",
        "check_command check_bulwark!database", "max_check_attempts 3", "check_interval " + checkInterval, "retry_interval 1",
        "check_period bulwark-24x7", "notification_period bulwark-24x7", "notification_interval 60", "contact_groups bulwark-managers"));
    List<String> services = new ArrayList<>();
    for (String name : components) services.add(service(o, "component " + name, "component!--component " + name));
    for (Checks.Check c : Checks.ALL.values()) if (!c.perComponent()) services.add(service(o, c.name(), c.name()));
    // a dead database makes every API server and worker fail too: one page, for the database
    // (the same dependencies the built-in monitor uses: Checks.observations)
    List<String> dependent = services.stream().filter(s -> s.startsWith("component api") || s.startsWith("component worker")
        || s.equals("workers") || s.equals("queue") || s.equals("backends")).toList();
    if (!dependent.isEmpty()) {
      o.append(block("servicedependency", "host_name bulwark", "service_description database", "dependent_host_name bulwark",
          "dependent_service_description " + String.join(",", dependent), "execution_failure_criteria n",
          "notification_failure_criteria w,u,c", "inherits_parent 1"));
    }
    // the plan's escalation: the manager first, the developers when it lasts past two notifications
    o.append(block("serviceescalation", "host_name bulwark", "service_description *", "first_notification 3", "last_notification 0",
        "notification_interval 60", "contact_groups bulwark-managers,bulwark-developers"));
    return o.toString();
  }

  private String service(StringBuilder o, String description, String command) {
    o.append(block("service", "host_name bulwark", "service_description " + description, "check_command check_bulwark!" + command,
        "max_check_attempts 3", "check_interval " + checkInterval, "retry_interval 1", "check_period bulwark-24x7",
        "notification_period bulwark-24x7", "notification_interval 60", "flap_detection_enabled 1", "contact_groups bulwark-managers"));
    return description;
  }

  private static String block(String type, String... lines) {
    StringBuilder b = new StringBuilder("define " + type + " {\n");
    for (String l : lines) b.append("  ").append(l).append('\n');
    return b.append("}\n\n").toString();
  }

  /** A nagios.cfg that runs only bulwark.cfg, with everything Nagios writes under {@code dir}; seconds as its time unit. */
  static String mainConfig(Path dir) {
    return String.join("\n",
        "cfg_file=" + dir.resolve("bulwark.cfg"),
        "interval_length=1",
        "log_file=" + dir.resolve("nagios.log"),
        "status_file=" + dir.resolve("status.dat"),
        "status_update_interval=1",
        "state_retention_file=" + dir.resolve("retention.dat"),
        "retain_state_information=1",
        "temp_file=" + dir.resolve("nagios.tmp"),
        "temp_path=" + dir,
        "lock_file=" + dir.resolve("nagios.lock"),
        "check_result_path=" + dir.resolve("checkresults"),
        "object_cache_file=" + dir.resolve("objects.cache"),
        "precached_object_file=" + dir.resolve("objects.precache"),
        "command_file=" + dir.resolve("nagios.cmd"),
        "query_socket=" + dir.resolve("nagios.qh"),
        "check_result_reaper_frequency=1",
        "service_check_timeout=30",
        "max_concurrent_checks=4",
        "execute_service_checks=1",
        "execute_host_checks=1",
        "enable_notifications=1",
        "enable_flap_detection=1",
        "use_syslog=0",
        "daemon_dumps_core=0",
        "illegal_macro_output_chars=`~$&|'\"<>",
        "");
  }
}
