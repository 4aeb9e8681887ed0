package io.bulwark.gateway;

import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.channels.UnresolvedAddressException;
import java.util.concurrent.TimeoutException;

/** Why a proxied request got no response from a server. */
enum UpstreamFailure {
  /** No connection: refused, unreachable, or the connect timeout passed. The request was never sent. */
  CONNECT("connect"),
  /** The connection was closed or reset during the exchange. */
  RESET("reset"),
  /** The request's deadline passed before the server answered. */
  TIMEOUT("timeout"),
  /** The gateway's own queue of requests waiting for a connection to the server is full. Never sent. */
  OVERLOAD("overload"),
  /** The client went away, so the gateway gave up; says nothing about the server. */
  CLIENT(null);

  private static final int MAX_REASON = 80;

  private final String metricKind;

  UpstreamFailure(String metricKind) {
    this.metricKind = metricKind;
  }

  /** The {@code kind} label of the errors counter, null if this is not the server's error. */
  String metricKind() {
    return metricKind;
  }

  /** Whether the failure marks the server down at once (HAProxy {@code observe layer4}, {@code on-error mark-down}). */
  boolean marksDown() {
    return this == CONNECT || this == RESET;
  }

  /** A short reason for logs: the exception's simple name and the start of its message (Jetty's can be huge). */
  static String describe(Throwable failure) {
    if (failure instanceof java.io.EOFException || failure instanceof java.nio.channels.ClosedChannelException) {
      return "connection closed by the server";
    }
    String msg = failure.getMessage();
    String name = failure.getClass().getSimpleName();
    if (msg == null || msg.isBlank()) return name;
    if (msg.length() > MAX_REASON) msg = msg.substring(0, MAX_REASON) + "...";
    return name + ": " + msg;
  }

  static UpstreamFailure classify(Throwable failure, boolean clientGone) {
    if (clientGone) return CLIENT;
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof ConnectException || t instanceof NoRouteToHostException || t instanceof UnknownHostException
          || t instanceof UnresolvedAddressException) {
        return CONNECT;
      }
      // Jetty reports a connect timeout as "SocketTimeoutException: Connect Timeout"; a request or idle timeout as TimeoutException
      if (t instanceof SocketTimeoutException s && s.getMessage() != null && s.getMessage().toLowerCase().contains("connect")) {
        return CONNECT;
      }
      if (t instanceof TimeoutException) return TIMEOUT;
      if (t instanceof java.util.concurrent.RejectedExecutionException) return OVERLOAD;
      if (t.getCause() == t) break;
    }
    return RESET;
  }
}
