package io.bulwark.monitor;

import com.fasterxml.jackson.databind.node.ObjectNode;

/** What a notification says, for an incident and one delivery of it. */
final class Notices {
  private Notices() {}

  static Notice of(Incident i, Incident.Delivery d, MonitorPolicy policy, String deployment) {
    boolean resolved = d.kind == Incident.Delivery.Kind.RESOLVED;
    String subject = "[Bulwark " + deployment + "] " + (resolved ? "RESOLVED " : i.flapping ? "FLAPPING " : "OPEN ") + i.ref() + " " + i.title;
    StringBuilder text = new StringBuilder();
    if (resolved) {
      text.append("Incident ").append(i.ref()).append(" is resolved (").append(i.resolvedBy == null ? "" : "by " + i.resolvedBy)
          .append(", at ").append(i.resolvedAt).append(").\n\n");
    } else {
      text.append("Incident ").append(i.ref()).append(" opened at ").append(i.openedAt).append(". Escalation step ").append(d.step + 1)
          .append(" of ").append(policy.steps().size());
      if (d.step > 0) text.append(": nobody acknowledged it within the previous step's timeout");
      text.append(".\nAcknowledge it to stop the escalation: bulwark incidents ack ").append(i.id).append("\n\n");
    }
    for (String line : i.diagnosis) text.append(line).append('\n');
    text.append("\nTimeline (UTC):\n");
    for (String t : i.timeline) text.append("  ").append(t).append('\n');
    ObjectNode json = IncidentStore.JSON.createObjectNode();
    json.put("deployment", deployment).put("event", resolved ? "resolved" : "opened").put("step", d.step + 1);
    json.set("incident", IncidentStore.JSON.valueToTree(i));
    ((ObjectNode) json.get("incident")).remove("deliveries");
    return new Notice(subject, text.toString(), json);
  }
}
