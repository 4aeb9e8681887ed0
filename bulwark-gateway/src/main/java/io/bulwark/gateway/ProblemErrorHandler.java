package io.bulwark.gateway;

import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

/**
 * Turns the errors Jetty answers by itself (malformed requests, oversized headers or URIs, ...) into
 * problem+json like every other gateway error. These requests never reach a server.
 */
final class ProblemErrorHandler extends ErrorHandler {

  static Problems.Problem problemFor(int status, String message) {
    String reason = HttpStatus.getMessage(status);
    String slug = switch (status) {
      case 400 -> "malformed-request";
      case 404 -> "not-found";
      case 405 -> "method-not-allowed";
      case 408 -> "request-timeout";
      case 413 -> "body-too-large";
      case 414 -> "uri-too-long";
      case 431 -> "headers-too-large";
      case 500 -> "internal-error";
      case 501 -> "not-implemented";
      case 505 -> "http-version-not-supported";
      default -> "http-" + status;
    };
    String detail = switch (status) {
      case 431 -> "the request headers are larger than the gateway accepts";
      case 414 -> "the request URI is longer than the gateway accepts";
      default -> message == null || message.isBlank() ? reason : message;
    };
    return new Problems.Problem(status, slug, reason, detail);
  }

  @Override
  public boolean handle(Request request, Response response, Callback callback) {
    int status = request.getAttribute(ERROR_STATUS) instanceof Integer s ? s : response.getStatus();
    if (status < 400) status = 500;
    String message = request.getAttribute(ERROR_MESSAGE) instanceof String m ? m : null;
    Problems.send(response, callback, problemFor(status, message), request.getHttpURI().getPath(), null);
    return true;
  }
}
