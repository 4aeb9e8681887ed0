package io.bulwark.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.bulwark.core.BulwarkException;
import java.io.EOFException;
import java.net.ConnectException;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class DatabaseUnavailableExceptionTest {

  @ParameterizedTest
  @ValueSource(strings = {"08006", "08001", "08003", "57P01", "57P02", "57P03", "53300", "40001", "40P01"})
  void connection_and_shutdown_states_mean_unavailable(String sqlState) {
    assertThat(DatabaseUnavailableException.isUnavailable(new SQLException("x", sqlState))).isTrue();
  }

  @ParameterizedTest
  @ValueSource(strings = {"23505", "23514", "42P01", "57014", "22P02"})
  void other_states_do_not_mean_unavailable(String sqlState) {
    assertThat(DatabaseUnavailableException.isUnavailable(new SQLException("x", sqlState))).isFalse();
  }

  @Test
  void a_sql_exception_without_a_state_or_cause_is_not_unavailable() {
    assertThat(DatabaseUnavailableException.isUnavailable(new SQLException("x"))).isFalse();
  }

  @Test
  void a_transient_connection_exception_means_unavailable() {
    // what HikariCP throws when no connection could be had within the connection timeout
    assertThat(DatabaseUnavailableException.isUnavailable(
        new SQLTransientConnectionException("test-db - Connection is not available, request timed out after 3000ms")))
        .isTrue();
  }

  @Test
  void a_connection_failure_anywhere_in_the_cause_chain_means_unavailable() {
    SQLException wrapped = new SQLException("outer", (String) null, new SQLException("inner", "57P01"));
    assertThat(DatabaseUnavailableException.isUnavailable(wrapped)).isTrue();
    SQLException io = new SQLException("I/O error", (String) null, new EOFException());
    assertThat(DatabaseUnavailableException.isUnavailable(io)).isTrue();
    SQLException refused = new SQLException("refused", (String) null, new ConnectException("Connection refused"));
    assertThat(DatabaseUnavailableException.isUnavailable(refused)).isTrue();
  }

  @Test
  void translate_makes_an_unavailable_exception_that_names_the_operation_and_keeps_the_cause() {
    SQLException cause = new SQLException("terminating connection due to administrator command", "57P01");

    RuntimeException e = DatabaseUnavailableException.translate("claiming tasks for w1", cause);

    assertThat(e).isInstanceOf(DatabaseUnavailableException.class)
        .hasMessageContaining("claiming tasks for w1")
        .hasMessageContaining("database unavailable")
        .hasMessageContaining("administrator command")
        .hasCause(cause);
  }

  @Test
  void translate_makes_a_plain_bulwark_exception_for_a_unique_violation() {
    SQLException cause = new SQLException("duplicate key value violates unique constraint", "23505");

    RuntimeException e = DatabaseUnavailableException.translate("creating API key", cause);

    assertThat(e).isExactlyInstanceOf(BulwarkException.class)
        .hasMessageContaining("creating API key")
        .hasMessageContaining("duplicate key")
        .hasCause(cause);
  }
}
