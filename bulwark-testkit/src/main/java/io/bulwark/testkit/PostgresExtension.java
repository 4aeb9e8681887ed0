package io.bulwark.testkit;

import io.bulwark.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Base64;
import java.util.Comparator;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * Gives tests a real, durable PostgreSQL: {@code @ExtendWith(PostgresExtension.class)} on a test
 * class, then declare a {@link TestDatabase} parameter on its constructor, {@code @BeforeAll},
 * {@code @BeforeEach}, {@code @AfterEach}, {@code @AfterAll} or test methods.
 *
 * <p>One server per JVM is started lazily (temp data directory, free port, random password) and
 * stopped when the test run ends (root extension context store) or, as a fallback, by a JVM
 * shutdown hook; its data directory is then deleted. Each test class (each {@code @Nested} class
 * too) gets its own fresh database {@code test_<n>}; all parameters within a class resolve to the
 * same database.
 *
 * <p>Consumers need {@code org.postgresql:postgresql} as a test dependency.
 */
public final class PostgresExtension implements ParameterResolver {
  private static final ExtensionContext.Namespace NAMESPACE =
      ExtensionContext.Namespace.create(PostgresExtension.class);
  private static final AtomicInteger DATABASES = new AtomicInteger();
  private static final Object LOCK = new Object();
  private static Server server; // guarded by LOCK

  @Override
  public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
    return parameter.getParameter().getType() == TestDatabase.class;
  }

  @Override
  public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
    ExtensionContext classContext = classContext(context);
    return classContext
        .getStore(NAMESPACE)
        .getOrComputeIfAbsent("database", k -> createDatabase(context), TestDatabase.class);
  }

  /** The shared server, started if needed. */
  public static EmbeddedPostgres server(ExtensionContext context) {
    synchronized (LOCK) {
      if (server == null || !server.postgres.isRunning()) {
        if (server != null) {
          server.close(); // it died: clean up its directory
        }
        server = Server.start();
      }
      ExtensionContext.Store root = context.getRoot().getStore(NAMESPACE);
      if (root.get("server") != server) {
        // closed (and the server stopped) when the whole test run ends
        root.put("server", server);
      }
      return server.postgres;
    }
  }

  private static TestDatabase createDatabase(ExtensionContext context) {
    EmbeddedPostgres postgres = server(context);
    String name = "test_" + DATABASES.incrementAndGet();
    try (Connection c = DriverManager.getConnection(postgres.jdbcUrl("postgres"), postgres.user(), postgres.password());
        Statement s = c.createStatement()) {
      s.execute("CREATE DATABASE " + name);
    } catch (SQLException e) {
      throw new ParameterResolutionException("cannot create test database " + name + " on " + postgres, e);
    }
    return new TestDatabase(postgres.jdbcUrl(name), postgres.user(), postgres.password());
  }

  /** The nearest context of a test class (not of a method). */
  private static ExtensionContext classContext(ExtensionContext context) {
    ExtensionContext c = context;
    while (c.getTestMethod().isPresent() || c.getTestClass().isEmpty()) {
      c = c.getParent().orElseThrow(() -> new ParameterResolutionException("TestDatabase needs a test class"));
    }
    return c;
  }

  /** The shared server and its temp directory; AutoCloseable so that JUnit closes it. */
  private static final class Server implements AutoCloseable {
    final EmbeddedPostgres postgres;
    final Path root;
    final Thread hook;

    private Server(EmbeddedPostgres postgres, Path root) {
      this.postgres = postgres;
      this.root = root;
      this.hook = new Thread(this::stopAndDelete, "bulwark-test-postgres-shutdown");
    }

    static Server start() {
      Path root;
      try {
        root = Files.createTempDirectory("bulwark-test-pg-");
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      byte[] secret = new byte[18];
      new SecureRandom().nextBytes(secret);
      EmbeddedPostgres postgres =
          EmbeddedPostgres.builder()
              .dataDir(root.resolve("data"))
              .logFile(root.resolve("postgres.log"))
              .password(Base64.getUrlEncoder().withoutPadding().encodeToString(secret))
              .build();
      Server s = new Server(postgres, root);
      Runtime.getRuntime().addShutdownHook(s.hook);
      try {
        postgres.start();
      } catch (RuntimeException e) {
        s.close();
        throw e;
      }
      return s;
    }

    @Override
    public void close() {
      synchronized (LOCK) {
        if (server == this) {
          server = null;
        }
      }
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // the hook is running or will run
      }
      stopAndDelete();
    }

    private void stopAndDelete() {
      postgres.stop();
      try (Stream<Path> paths = Files.walk(root)) {
        paths.sorted(Comparator.reverseOrder()).forEach(p -> {
          try {
            Files.deleteIfExists(p);
          } catch (IOException ignored) {
            // best effort: a temp directory
          }
        });
      } catch (IOException ignored) {
        // best effort
      }
    }
  }
}
