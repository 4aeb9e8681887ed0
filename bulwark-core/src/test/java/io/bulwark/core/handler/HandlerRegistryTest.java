package io.bulwark.core.handler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bulwark.core.BulwarkException;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class HandlerRegistryTest {

  /** A handler of a fixed type. */
  static class Named implements TaskHandler {
    private final String type;

    Named(String type) {
      this.type = type;
    }

    @Override
    public String type() {
      return type;
    }

    @Override
    public TaskResult handle(TaskContext context) {
      return TaskResult.NONE;
    }
  }

  static final class FirstHandler extends Named {
    FirstHandler(String type) {
      super(type);
    }
  }

  static final class SecondHandler extends Named {
    SecondHandler(String type) {
      super(type);
    }
  }

  @Test
  void handlers_are_found_by_type_and_types_are_sorted() {
    TaskHandler zip = new Named("zip");
    TaskHandler a = new Named("a");
    TaskHandler sha = new Named("sha256");
    TaskHandler dotted = new Named("image.resize-v2_x");
    HandlerRegistry r = HandlerRegistry.of(zip, sha, a, dotted);

    assertThat(r.types()).containsExactly("a", "image.resize-v2_x", "sha256", "zip");
    assertThat(r.find("sha256")).containsSame(sha);
    assertThat(r.find("zip")).containsSame(zip);
    assertThat(r.contains("a")).isTrue();
    assertThat(r.contains("missing")).isFalse();
    assertThat(r.find("missing")).isEmpty();
  }

  @Test
  void types_cannot_be_modified_by_callers() {
    HandlerRegistry r = HandlerRegistry.of(new Named("a"));
    assertThatThrownBy(() -> r.types().add("b")).isInstanceOf(UnsupportedOperationException.class);
  }

  @Test
  void an_empty_registry_knows_no_types() {
    assertThat(HandlerRegistry.of(List.of()).types()).isEmpty();
  }

  @Test
  void two_handlers_of_the_same_type_are_rejected_naming_both_classes() {
    assertThatThrownBy(() -> HandlerRegistry.of(new FirstHandler("sha256"), new SecondHandler("sha256")))
        .isInstanceOf(BulwarkException.class)
        .hasMessageContaining("'sha256'")
        .hasMessageContaining(FirstHandler.class.getName())
        .hasMessageContaining(SecondHandler.class.getName());
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "Upper", "has space", ".dot-first", "-dash-first", "_underscore-first", "slash/type",
      "ünïcode", "semi;colon"})
  void invalid_type_names_are_rejected_naming_the_handler_class(String type) {
    assertThatThrownBy(() -> HandlerRegistry.of(new FirstHandler(type)))
        .isInstanceOf(BulwarkException.class)
        .hasMessageContaining(FirstHandler.class.getName())
        .hasMessageContaining("'" + type + "'");
  }

  @Test
  void a_null_type_is_rejected_naming_the_handler_class() {
    assertThatThrownBy(() -> HandlerRegistry.of(new FirstHandler(null)))
        .isInstanceOf(BulwarkException.class)
        .hasMessageContaining(FirstHandler.class.getName());
  }

  @Test
  void type_names_may_be_up_to_100_characters() {
    String longest = "a".repeat(100);
    assertThat(HandlerRegistry.of(new Named(longest)).types()).containsExactly(longest);
    assertThatThrownBy(() -> HandlerRegistry.of(new FirstHandler("a".repeat(101))))
        .isInstanceOf(BulwarkException.class)
        .hasMessageContaining(FirstHandler.class.getName());
  }

  @org.junit.jupiter.api.Test
  void a_handlers_directory_or_jar_that_other_users_can_write_is_refused(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
      throws Exception {
    java.nio.file.Path handlers = java.nio.file.Files.createDirectory(dir.resolve("handlers"));
    java.nio.file.Files.setPosixFilePermissions(handlers, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxr-x"));
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> HandlerRegistry.load(handlers))
        .isInstanceOf(io.bulwark.core.BulwarkException.class).hasMessageContaining("writable by other users")
        .hasMessageContaining("chmod go-w " + handlers);
    java.nio.file.Files.setPosixFilePermissions(handlers, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
    java.nio.file.Path jar = java.nio.file.Files.createFile(handlers.resolve("x.jar"));
    java.nio.file.Files.setPosixFilePermissions(jar, java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw-rw-"));
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> HandlerRegistry.load(handlers)).hasMessageContaining(jar + " is writable");
    java.nio.file.Files.delete(jar);
    org.assertj.core.api.Assertions.assertThat(HandlerRegistry.load(handlers).contains("echo")).isFalse();
  }
}
