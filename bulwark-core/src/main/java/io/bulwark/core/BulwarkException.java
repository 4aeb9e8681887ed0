package io.bulwark.core;

/**
 * Root of every exception Bulwark throws on purpose. Messages name the thing that failed (ids,
 * paths, ports) and what to do about it.
 */
public class BulwarkException extends RuntimeException {
  public BulwarkException(String message) {
    super(message);
  }

  public BulwarkException(String message, Throwable cause) {
    super(message, cause);
  }
}
