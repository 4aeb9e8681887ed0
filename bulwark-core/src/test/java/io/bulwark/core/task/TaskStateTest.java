package io.bulwark.core.task;

import static io.bulwark.core.task.TaskState.CANCELLED;
import static io.bulwark.core.task.TaskState.DEAD;
import static io.bulwark.core.task.TaskState.QUEUED;
import static io.bulwark.core.task.TaskState.RUNNING;
import static io.bulwark.core.task.TaskState.SUCCEEDED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class TaskStateTest {

  /** The documented state diagram, written out independently of the implementation. */
  private static final Map<TaskState, Set<TaskState>> LEGAL = Map.of(
      QUEUED, EnumSet.of(RUNNING, CANCELLED),
      RUNNING, EnumSet.of(SUCCEEDED, QUEUED, DEAD, CANCELLED),
      SUCCEEDED, EnumSet.noneOf(TaskState.class),
      DEAD, EnumSet.of(QUEUED),
      CANCELLED, EnumSet.of(QUEUED));

  static Stream<Arguments> everyPairOfStates() {
    return Stream.of(TaskState.values())
        .flatMap(from -> Stream.of(TaskState.values()).map(to -> Arguments.of(from, to)));
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @MethodSource("everyPairOfStates")
  void every_move_is_legal_exactly_when_the_state_diagram_has_it(TaskState from, TaskState to) {
    assertThat(from.canMoveTo(to)).isEqualTo(LEGAL.get(from).contains(to));
  }

  @Test
  void the_table_has_exactly_the_eight_documented_moves() {
    long legal = everyPairOfStates().filter(a -> ((TaskState) a.get()[0]).canMoveTo((TaskState) a.get()[1])).count();
    assertThat(legal).isEqualTo(8);
  }

  @ParameterizedTest
  @EnumSource(TaskState.class)
  void no_state_moves_to_itself(TaskState s) {
    assertThat(s.canMoveTo(s)).isFalse();
  }

  @Test
  void succeeded_is_final_while_dead_and_cancelled_can_only_be_redriven_to_queued() {
    for (TaskState to : TaskState.values()) {
      assertThat(SUCCEEDED.canMoveTo(to)).as("succeeded -> %s", to).isFalse();
    }
    assertThat(EnumSet.allOf(TaskState.class).stream().filter(DEAD::canMoveTo)).containsExactly(QUEUED);
    assertThat(EnumSet.allOf(TaskState.class).stream().filter(CANCELLED::canMoveTo)).containsExactly(QUEUED);
  }

  @Test
  void succeeded_dead_and_cancelled_are_terminal_and_queued_and_running_are_not() {
    assertThat(SUCCEEDED.isTerminal()).isTrue();
    assertThat(DEAD.isTerminal()).isTrue();
    assertThat(CANCELLED.isTerminal()).isTrue();
    assertThat(QUEUED.isTerminal()).isFalse();
    assertThat(RUNNING.isTerminal()).isFalse();
  }

  @Test
  void only_running_tasks_can_finish() {
    for (TaskState from : TaskState.values()) {
      boolean reachesSucceeded = from.canMoveTo(SUCCEEDED);
      assertThat(reachesSucceeded).as("%s -> succeeded", from).isEqualTo(from == RUNNING);
    }
  }

  @ParameterizedTest
  @EnumSource(TaskState.class)
  void wire_names_are_lower_case_and_parse_back(TaskState s) {
    assertThat(s.wireName()).isEqualTo(s.name().toLowerCase(java.util.Locale.ROOT));
    assertThat(TaskState.fromWire(s.wireName())).isSameAs(s);
  }

  @ParameterizedTest
  @ValueSource(strings = {"QUEUED", "Running", "done", "", " queued", "queued "})
  void from_wire_rejects_unknown_names_and_lists_the_accepted_ones(String name) {
    assertThatThrownBy(() -> TaskState.fromWire(name))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'" + name + "'")
        .hasMessageContaining("queued")
        .hasMessageContaining("running")
        .hasMessageContaining("succeeded")
        .hasMessageContaining("dead")
        .hasMessageContaining("cancelled");
  }

  @Test
  void from_wire_rejects_null_with_the_same_helpful_message() {
    assertThatThrownBy(() -> TaskState.fromWire(null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("expected one of queued, running, succeeded, dead, cancelled");
  }
}
