package io.bulwark.monitor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class MonitorPolicyTest {
  @Test
  void the_commented_example_parses_and_escalates_manager_first() {
    MonitorPolicy p = MonitorPolicy.parse(MonitorPolicy.EXAMPLE, "example");
    assertThat(p.steps()).hasSize(2);
    assertThat(p.recipientsOf(0)).containsExactly("manager");
    assertThat(p.stepDelay(1)).isEqualTo(Duration.ofMinutes(10));
    assertThat(p.monitor().attempts()).isEqualTo(3);
    assertThat(p.threshold("archive").critical()).isEqualTo(50.0);
    assertThat(p.recipients().get("team-chat").slack()).isTrue();
  }

  @Test
  void an_empty_file_is_the_defaults() {
    MonitorPolicy p = MonitorPolicy.parse("# nothing\n", "empty");
    assertThat(p.steps()).isEmpty();
    assertThat(p.monitor().checkInterval()).isEqualTo(Duration.ofSeconds(1));
  }

  @Test
  void bad_input_is_refused_with_one_line_naming_the_problem() {
    assertRefused("[monitor]\nintervall = \"1s\"\n", "unknown key 'intervall'", "interval");
    assertRefused("[monitor]\ninterval = \"soon\"\n", "monitor.interval must be a number with a unit");
    assertRefused("[[steps]]\nnotify = [\"manager\"]\nack-timeout = \"10 minutes\"\n[recipients.manager]\nwebhook = \"http://x/\"\n",
        "steps[0].ack-timeout must be a number with a unit");
    assertRefused("[[steps]]\nnotify = [\"boss\"]\n", "steps[0] notifies 'boss', which is not a recipient");
    assertRefused("[recipients.manager]\n", "recipients.manager has no address");
    assertRefused("[recipients.manager]\nemail = \"not-an-address\"\n", "recipients.manager.email is not an email address");
    assertRefused("[recipients.manager]\nemail = \"m@example.test\"\n", "recipients with email need an [smtp] table");
    assertRefused("[recipients.chat]\nwebhook = \"ftp://x\"\n", "must be an http:// or https:// URL");
    assertRefused("[recipients.chat]\nwebhook = \"http://x/\"\nformat = \"teams\"\n", "format must be json or slack");
    assertRefused("[thresholds.archive]\n", "thresholds.archive sets neither warning nor critical");
    assertRefused("[monitor\n", "not valid TOML");
  }

  private static void assertRefused(String text, String... parts) {
    assertThatThrownBy(() -> MonitorPolicy.parse(text, "policy.toml"))
        .isInstanceOf(MonitorConfigException.class)
        .satisfies(e -> {
          assertThat(e.getMessage()).startsWith("policy.toml: ").contains(parts);
          assertThat(e.getMessage().lines().count()).isEqualTo(1);
        });
  }
}
