package io.bulwark.monitor;

import java.util.List;

/**
 * Runs every check of a deployment once. One machine's source reads what `up` publishes in its data
 * directory and probes from there; the list may change between runs (components come and go).
 * Implementations turn their own failures into UNKNOWN results rather than throwing.
 */
@FunctionalInterface
public interface CheckSource {
  List<Observation> runAll();
}
