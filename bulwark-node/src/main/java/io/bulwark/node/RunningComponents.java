package io.bulwark.node;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.bulwark.core.BulwarkException;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The component table a running `bulwark up` keeps in {@code run/components.json} ({@link
 * Supervisor#writeComponents()}), read by the commands that act on components by name or role.
 */
public record RunningComponents(DataDir dir, List<JsonNode> rows) {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Reads the table; a data directory where nothing runs is an error that says how to start it. */
  public static RunningComponents read(DataDir dir) {
    return find(dir).orElseThrow(() -> new BulwarkException("nothing is running on " + dir.root()
        + "; start it with `bulwark up --data-dir " + dir.root() + "`"));
  }

  /** The table, if something runs on {@code dir}. */
  public static Optional<RunningComponents> find(DataDir dir) {
    if (!Files.exists(dir.componentsFile())) return Optional.empty();
    try {
      List<JsonNode> rows = new ArrayList<>();
      JSON.readTree(dir.componentsFile().toFile()).forEach(rows::add);
      return Optional.of(new RunningComponents(dir, List.copyOf(rows)));
    } catch (IOException e) {
      throw new BulwarkException("cannot read " + dir.componentsFile() + ": " + e.getMessage(), e);
    }
  }

  /** The component with this name, or else the components with this role, in the table's order. */
  public List<JsonNode> select(String nameOrRole) {
    List<JsonNode> byRole = new ArrayList<>();
    for (JsonNode c : rows) {
      if (c.path("name").asText().equals(nameOrRole)) return List.of(c);
      if (c.path("role").asText().equals(nameOrRole)) byRole.add(c);
    }
    return byRole;
  }

  /** The component with this name; an unknown name is an error listing the names there are. */
  public JsonNode named(String name) {
    for (JsonNode c : rows) if (c.path("name").asText().equals(name)) return c;
    throw new BulwarkException("no component " + name + " in " + dir.componentsFile() + "; there are " + names());
  }

  public Set<String> names() {
    Set<String> names = new LinkedHashSet<>();
    for (JsonNode c : rows) names.add(c.path("name").asText());
    return names;
  }

  public Set<String> roles() {
    Set<String> roles = new LinkedHashSet<>();
    for (JsonNode c : rows) roles.add(c.path("role").asText());
    return roles;
  }
}
