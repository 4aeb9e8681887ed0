package io.bulwark.dns;

import io.bulwark.core.BulwarkException;

/**
 * The DNS set-up is wrong (a TSIG key the server refuses, a zone it does not serve, a record type that
 * cannot point at a gateway, a token without edit rights): retrying cannot help, a person must fix it.
 * The message is one line naming the problem.
 */
public class DnsConfigException extends BulwarkException {
  public DnsConfigException(String message) {
    super(message);
  }

  public DnsConfigException(String message, Throwable cause) {
    super(message, cause);
  }
}
