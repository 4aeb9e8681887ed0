package io.bulwark.cluster.spec;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** What a node can run; written in lower case in the cluster file ({@code runs = ["postgres", "api"]}). */
public enum Role {
  POSTGRES, API, GATEWAY, WORKER, MONITOR, DNS;

  @JsonValue
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  @JsonCreator
  public static Role parse(String text) {
    for (Role r : values()) if (r.label().equals(text)) return r;
    throw new IllegalArgumentException("unknown role '" + text + "'; roles are "
        + Arrays.stream(values()).map(Role::label).collect(Collectors.joining(", ")));
  }
}
