package io.bulwark.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(PostgresExtension.class)
class PostgresExtensionTest {
  private static final Map<String, TestDatabase> SEEN = new ConcurrentHashMap<>();

  @AfterAll
  static void each_test_class_got_its_own_database() {
    assertThat(SEEN).containsOnlyKeys("first", "second");
    assertThat(SEEN.get("first").jdbcUrl()).isNotEqualTo(SEEN.get("second").jdbcUrl());
    assertThat(SEEN.get("first").jdbcUrl()).matches("jdbc:postgresql://127\\.0\\.0\\.1:\\d+/test_\\d+");
  }

  private static String currentDatabase(TestDatabase db) throws Exception {
    try (Connection c = db.connect();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT current_database()")) {
      rs.next();
      return rs.getString(1);
    }
  }

  @Nested
  class First {
    private final TestDatabase fromConstructor;
    private TestDatabase fromBeforeEach;

    First(TestDatabase db) {
      this.fromConstructor = db;
    }

    @BeforeEach
    void remember(TestDatabase db) {
      fromBeforeEach = db;
    }

    @Test
    void constructor_before_each_and_test_parameters_are_the_same_database(TestDatabase db) throws Exception {
      assertThat(db).isEqualTo(fromConstructor).isEqualTo(fromBeforeEach);
      assertThat(currentDatabase(db)).isEqualTo(db.name());
      try (Connection c = db.connect();
          Statement s = c.createStatement()) {
        s.execute("CREATE TABLE only_in_first (id int)");
      }
      SEEN.put("first", db);
    }
  }

  @Nested
  class Second {
    static TestDatabase fromBeforeAll;

    @BeforeAll
    static void remember(TestDatabase db) {
      fromBeforeAll = db;
    }

    @Test
    void a_second_class_gets_a_fresh_empty_database(TestDatabase db) throws Exception {
      assertThat(db).isEqualTo(fromBeforeAll);
      assertThat(currentDatabase(db)).isEqualTo(db.name());
      try (Connection c = db.connect();
          Statement s = c.createStatement();
          ResultSet rs = s.executeQuery("SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_first'")) {
        rs.next();
        assertThat(rs.getInt(1)).isZero();
      }
      SEEN.put("second", db);
    }
  }
}
