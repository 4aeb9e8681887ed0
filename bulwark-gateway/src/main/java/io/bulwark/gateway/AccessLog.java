package io.bulwark.gateway;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One INFO line per client request on the logger {@value #LOGGER}:
 *
 * <pre>[gateway] GET /v1/tasks/t_1 200 backend=api-main retries=0 ms=1.234 id=5f0c...</pre>
 *
 * <p>Only the method, the path (no query string) and ids: never headers, so no credentials. Costs
 * one level check when the logger is off.
 */
final class AccessLog {
  static final String LOGGER = "io.bulwark.gateway.access";
  private static final Logger log = LoggerFactory.getLogger(LOGGER);

  private final String gateway;

  AccessLog(String gateway) {
    this.gateway = gateway;
  }

  void log(String method, String path, int status, String backend, int retries, long nanos, String requestId) {
    if (!log.isInfoEnabled()) return;
    StringBuilder line = new StringBuilder(128)
        .append('[').append(gateway).append("] ")
        .append(method).append(' ').append(path).append(' ').append(status)
        .append(" backend=").append(backend)
        .append(" retries=").append(retries)
        .append(" ms=");
    millis(line, nanos).append(" id=").append(requestId);
    log.info(line.toString());
  }

  /** Milliseconds with three decimals, without String.format. */
  static StringBuilder millis(StringBuilder out, long nanos) {
    long micros = Math.max(0, nanos / 1000);
    long frac = micros % 1000;
    out.append(micros / 1000).append('.');
    if (frac < 100) out.append('0');
    if (frac < 10) out.append('0');
    return out.append(frac);
  }
}
