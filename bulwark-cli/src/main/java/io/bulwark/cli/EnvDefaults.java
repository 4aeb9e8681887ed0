package io.bulwark.cli;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Properties;
import picocli.CommandLine.IDefaultValueProvider;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Option defaults from the environment and an optional config file: option {@code --jdbc-url} reads
 * {@code BULWARK_JDBC_URL}, then the key {@code jdbc-url} of the properties file named by
 * {@code BULWARK_CONFIG}. Flags on the command line win over both.
 */
final class EnvDefaults implements IDefaultValueProvider {
  private final Properties file = new Properties();

  EnvDefaults() {
    String path = System.getenv("BULWARK_CONFIG");
    if (path != null && !path.isBlank()) {
      try (Reader r = Files.newBufferedReader(Path.of(path))) {
        file.load(r);
      } catch (IOException e) {
        throw new io.bulwark.core.BulwarkException("cannot read config file " + path + " (BULWARK_CONFIG): " + e.getMessage());
      }
    }
  }

  @Override
  public String defaultValue(ArgSpec arg) {
    if (!(arg instanceof OptionSpec opt)) return null;
    String name = opt.longestName().replaceFirst("^--", "");
    String env = System.getenv("BULWARK_" + name.toUpperCase(Locale.ROOT).replace('-', '_'));
    if (env != null) return env;
    String fromFile = file.getProperty(name);
    return fromFile != null ? fromFile : arg.defaultValue();
  }
}
