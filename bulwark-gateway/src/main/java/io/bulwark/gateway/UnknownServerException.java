package io.bulwark.gateway;

import io.bulwark.core.BulwarkException;
import java.util.Collection;

/** A server name the gateway does not know. */
public final class UnknownServerException extends BulwarkException {
  public UnknownServerException(String name, Collection<String> known) {
    super("no server named '" + name + "'; the servers are " + String.join(", ", known));
  }
}
