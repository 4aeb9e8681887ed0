package io.bulwark.monitor;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import io.bulwark.core.Durations;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The monitor's policy file (TOML): how it checks ({@code [monitor]}), the checks' thresholds
 * ({@code [thresholds.NAME]}), and whom it tells, in which order ({@code [[steps]]}, {@code
 * [recipients.NAME]}, {@code [smtp]}), as the customer's plan says: the manager first, the
 * development team when the manager has not acknowledged in time. {@link #EXAMPLE} is the commented
 * example `bulwark monitor policy-example` prints. Unknown keys, bad durations, recipients without an
 * address are refused with one line naming the problem.
 */
public record MonitorPolicy(Settings monitor, Map<String, Threshold> thresholds, List<Step> steps,
    Map<String, Recipient> recipients, Smtp smtp) {

  /** How the monitor checks and decides. */
  public record Settings(String interval, @JsonProperty("max-attempts") Integer maxAttempts,
      @JsonProperty("resolve-after") String resolveAfter, @JsonProperty("group-wait") String groupWait,
      @JsonProperty("flap-low") Double flapLow, @JsonProperty("flap-high") Double flapHigh) {
    public static final Settings DEFAULTS = new Settings("1s", 3, "5s", "2s", 25.0, 50.0);

    /** How often every check runs (default 1 s). */
    public Duration checkInterval() {
      return duration("monitor.interval", interval, DEFAULTS.interval);
    }

    /** Results in a row that make a problem HARD (default 3: HARD 2-3 s after a failure at 1 s intervals). */
    public int attempts() {
      return maxAttempts == null ? DEFAULTS.maxAttempts : maxAttempts;
    }

    /** How long every check of an incident must be OK before it resolves by itself (default 5 s). */
    public Duration resolveDelay() {
      return duration("monitor.resolve-after", resolveAfter, DEFAULTS.resolveAfter);
    }

    /**
     * How long an incident gathers related failures and events before its first notification
     * (Alertmanager's group_wait; default 2 s), so that the message already says what Bulwark did.
     */
    public Duration groupWaitDelay() {
      return duration("monitor.group-wait", groupWait, DEFAULTS.groupWait);
    }

    public double low() {
      return flapLow == null ? DEFAULTS.flapLow : flapLow;
    }

    public double high() {
      return flapHigh == null ? DEFAULTS.flapHigh : flapHigh;
    }
  }

  /** A check's thresholds (each check documents its unit and defaults). */
  public record Threshold(Double warning, Double critical) {}

  /**
   * One step of the escalation: its recipients are told when the incident reaches it; the next step
   * is told when nobody acknowledged within {@code ack-timeout} of this step's notification.
   */
  public record Step(@JsonProperty("notify") List<String> who, @JsonProperty("ack-timeout") String ackTimeout) {
    public Duration ackTimeoutDuration(int index) {
      return duration("steps[" + index + "].ack-timeout", ackTimeout, "15m");
    }
  }

  /** Where a recipient is told: an email address, or a webhook ({@code format} json or slack). */
  public record Recipient(String email, String webhook, String format) {
    public boolean slack() {
      return "slack".equals(format);
    }
  }

  /** The SMTP server email goes through. */
  public record Smtp(String host, Integer port, String from, Boolean starttls, String username,
      @JsonProperty("password-file") String passwordFile, String timeout) {
    public int portOrDefault() {
      return port == null ? 25 : port;
    }

    public Duration timeoutDuration() {
      return duration("smtp.timeout", timeout, "10s");
    }
  }

  /** No file: the defaults, incidents recorded and shown, nobody notified. */
  public static final MonitorPolicy DEFAULT = new MonitorPolicy(Settings.DEFAULTS, Map.of(), List.of(), Map.of(), null);

  public MonitorPolicy {
    monitor = monitor == null ? Settings.DEFAULTS : monitor;
    thresholds = thresholds == null ? Map.of() : Map.copyOf(thresholds);
    steps = steps == null ? List.of() : List.copyOf(steps);
    recipients = recipients == null ? Map.of() : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(recipients));
  }

  public static final String EXAMPLE = """
      # Bulwark monitor policy: `bulwark up --monitor-policy FILE` or `bulwark monitor run --policy FILE`.
      # Every key is optional; unknown keys are refused. Durations: 500ms, 30s, 5m, 1h.

      [monitor]
      interval = "1s"          # every check runs this often
      max-attempts = 3         # non-OK results in a row before a problem is HARD (Nagios's max_check_attempts)
      resolve-after = "5s"     # an incident resolves by itself once all its checks are OK this long
      group-wait = "2s"        # an incident's first notification waits this long to gather what Bulwark did about it
      flap-low = 25.0          # Nagios's flap thresholds, percent state change over the last 21 results
      flap-high = 50.0

      # thresholds of the checks that have them (see `bulwark check --help`)
      [thresholds.archive]
      warning = 10
      critical = 50

      # The escalation, in order: step 1 is told when an incident opens; each next step when nobody
      # acknowledged (`bulwark incidents ack ID`) within the previous step's ack-timeout.
      [[steps]]
      notify = ["manager"]
      ack-timeout = "10m"

      [[steps]]
      notify = ["developers", "team-chat"]

      [recipients.manager]
      email = "manager@example.com"

      [recipients.developers]
      email = "dev-team@example.com"

      [recipients.team-chat]
      webhook = "https://hooks.slack.com/services/T000/B000/XXXX"
      format = "slack"         # or "json" (the incident as JSON)

      [smtp]
      host = "smtp.example.com"
      port = 587
      from = "bulwark@example.com"
      starttls = true
      # username = "bulwark"
      # password-file = "/etc/bulwark/smtp-password"   # the password, never in this file
      timeout = "10s"
      """;

  private static final TomlMapper TOML = TomlMapper.builder()
      .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .build();
  private static final Pattern EMAIL = Pattern.compile("[^@\\s]+@[^@\\s]+");

  public static MonitorPolicy read(Path file) {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new MonitorConfigException("monitor policy " + file + " does not exist; `bulwark monitor policy-example > " + file
          + "` writes a commented one");
    } catch (IOException e) {
      throw new MonitorConfigException("cannot read monitor policy " + file + ": " + e.getMessage(), e);
    }
    return parse(text, file.toString());
  }

  public static MonitorPolicy parse(String text, String origin) {
    MonitorPolicy p;
    try {
      p = TOML.readValue(text, MonitorPolicy.class);
    } catch (UnrecognizedPropertyException e) {
      throw new MonitorConfigException(origin + ": unknown key '" + e.getPropertyName() + "'" + where(e) + "; known keys there: "
          + e.getKnownPropertyIds().stream().map(String::valueOf).sorted().collect(Collectors.joining(", ")));
    } catch (JsonMappingException e) {
      throw new MonitorConfigException(origin + ": " + e.getOriginalMessage().lines().findFirst().orElse("") + where(e));
    } catch (IOException e) {
      throw new MonitorConfigException(origin + ": not valid TOML (" + e.getMessage().lines().findFirst().orElse("") + ")", e);
    }
    if (p == null) return DEFAULT;
    try {
      p.validate();
    } catch (MonitorConfigException e) {
      throw new MonitorConfigException(origin + ": " + e.getMessage());
    }
    return p;
  }

  private static String where(JsonMappingException e) {
    String path = e.getPath().stream().map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
        .collect(Collectors.joining(".")).replace(".[", "[");
    return path.isEmpty() ? "" : " (at " + path + ")";
  }

  /** Checks every value; throws naming the first problem. */
  void validate() {
    monitor.checkInterval();
    monitor.resolveDelay();
    monitor.groupWaitDelay();
    if (monitor.attempts() < 1) throw new MonitorConfigException("monitor.max-attempts must be at least 1, got " + monitor.attempts());
    if (monitor.low() < 0 || monitor.high() > 100 || monitor.low() >= monitor.high()) {
      throw new MonitorConfigException("monitor.flap-low must be below monitor.flap-high, both percentages; got " + monitor.low()
          + " and " + monitor.high());
    }
    thresholds.forEach((name, t) -> {
      if (t == null || t.warning() == null && t.critical() == null) {
        throw new MonitorConfigException("thresholds." + name + " sets neither warning nor critical");
      }
    });
    for (Map.Entry<String, Recipient> e : recipients.entrySet()) {
      Recipient r = e.getValue();
      String where = "recipients." + e.getKey();
      if (r == null || (r.email() == null || r.email().isBlank()) && (r.webhook() == null || r.webhook().isBlank())) {
        throw new MonitorConfigException(where + " has no address: give it email = \"…\" or webhook = \"https://…\"");
      }
      if (r.email() != null && r.webhook() != null) throw new MonitorConfigException(where + " has both email and webhook; use two recipients");
      if (r.email() != null && !EMAIL.matcher(r.email()).matches()) {
        throw new MonitorConfigException(where + ".email is not an email address: '" + r.email() + "'");
      }
      if (r.webhook() != null && !r.webhook().matches("https?://.+")) {
        throw new MonitorConfigException(where + ".webhook must be an http:// or https:// URL, got '" + r.webhook() + "'");
      }
      if (r.format() != null && !List.of("json", "slack").contains(r.format())) {
        throw new MonitorConfigException(where + ".format must be json or slack, got '" + r.format() + "'");
      }
      if (r.format() != null && r.webhook() == null) throw new MonitorConfigException(where + ".format is for webhooks only");
    }
    for (int i = 0; i < steps.size(); i++) {
      Step s = steps.get(i);
      if (s == null || s.who() == null || s.who().isEmpty()) {
        throw new MonitorConfigException("steps[" + i + "] notifies nobody: give it notify = [\"RECIPIENT\", …]");
      }
      for (String name : s.who()) {
        if (!recipients.containsKey(name)) {
          throw new MonitorConfigException("steps[" + i + "] notifies '" + name + "', which is not a recipient; recipients: "
              + (recipients.isEmpty() ? "(none: add a [recipients." + name + "] table)" : String.join(", ", recipients.keySet())));
        }
      }
      s.ackTimeoutDuration(i);
    }
    boolean email = recipients.values().stream().anyMatch(r -> r.email() != null);
    if (email) {
      if (smtp == null || smtp.host() == null || smtp.host().isBlank()) {
        throw new MonitorConfigException("recipients with email need an [smtp] table with host (and port, from)");
      }
      if (smtp.from() == null || !EMAIL.matcher(smtp.from()).matches()) {
        throw new MonitorConfigException("smtp.from must be the sender's email address, got " + (smtp.from() == null ? "nothing" : "'" + smtp.from() + "'"));
      }
      if (smtp.portOrDefault() < 1 || smtp.portOrDefault() > 65535) throw new MonitorConfigException("smtp.port must be 1-65535, got " + smtp.port());
      smtp.timeoutDuration();
      if (smtp.passwordFile() != null && !Files.isReadable(Path.of(smtp.passwordFile()))) {
        throw new MonitorConfigException("smtp.password-file " + smtp.passwordFile() + " cannot be read");
      }
      if (smtp.passwordFile() != null && smtp.username() == null) throw new MonitorConfigException("smtp.password-file needs smtp.username");
    }
  }

  /** When step {@code index} is due, counted from the incident's opening (step 0 at once). */
  public Duration stepDelay(int index) {
    Duration d = Duration.ZERO;
    for (int i = 0; i < index; i++) d = d.plus(steps.get(i).ackTimeoutDuration(i));
    return d;
  }

  /** A check's thresholds, or none. */
  public Threshold threshold(String check) {
    return thresholds.getOrDefault(check, new Threshold(null, null));
  }

  static Duration duration(String key, String text, String fallback) {
    String t = text == null ? fallback : text;
    Duration d;
    try {
      d = Durations.parse(key, t, "30s or 10m");
    } catch (IllegalArgumentException e) {
      throw new MonitorConfigException(e.getMessage());
    }
    if (d.isZero() && !key.endsWith("group-wait")) throw new MonitorConfigException(key + " must be more than 0, got '" + t + "'");
    return d;
  }

  /** The recipients of a step. */
  public List<String> recipientsOf(int step) {
    return new ArrayList<>(steps.get(step).who());
  }
}
