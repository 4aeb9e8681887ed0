package io.bulwark.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.bulwark.node.RoleProcess;
import org.junit.jupiter.api.Test;

@ParallelSafe
class RoleProcessTest {
  @Test
  void role_processes_run_this_command_s_entry_point() {
    // bulwark-node names the entry point instead of depending on the CLI; a renamed Main must rename it there
    assertThat(RoleProcess.MAIN_CLASS).isEqualTo(Main.class.getName());
  }
}
