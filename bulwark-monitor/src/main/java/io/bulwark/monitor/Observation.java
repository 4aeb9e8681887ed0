package io.bulwark.monitor;

import java.util.List;

/**
 * One check's result as the monitor sees it, with where it belongs.
 *
 * @param check the check's name, unique in a run ({@code database}, {@code component:api-main})
 * @param group the root cause it stands for: failures of one group are one incident
 *     ({@code database} for the database, its nodes and its standby; {@code component:NAME} for a process)
 * @param parents checks this one depends on (Nagios's service dependencies): while a parent fails, or
 *     its group has an open incident, this check's failure is part of that incident, not one of its own
 * @param result what the check found
 */
public record Observation(String check, String group, List<String> parents, CheckResult result) {
  public Observation {
    parents = List.copyOf(parents);
  }
}
