package io.bulwark.core.http;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;

/**
 * The small admin APIs of the controllers (DNS controller, monitor): the JDK's HTTP server on
 * loopback only, one virtual thread per request, and the two ways they answer: a body, or an
 * RFC 9457 problem ({@code application/problem+json}).
 */
public final class AdminHttp {
  private AdminHttp() {}

  /** An HTTP server on 127.0.0.1:{@code port} (0: any free port), not started. */
  public static HttpServer loopbackServer(int port) throws IOException {
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 16);
    server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
    return server;
  }

  public static void send(HttpExchange ex, int status, String type, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", type);
    ex.sendResponseHeaders(status, bytes.length);
    ex.getResponseBody().write(bytes);
  }

  public static void problem(HttpExchange ex, int status, String title, String detail) throws IOException {
    send(ex, status, "application/problem+json", "{\"type\":\"about:blank\",\"title\":" + quote(title) + ",\"status\":" + status
        + ",\"detail\":" + quote(detail) + "}");
  }

  /** A JSON string literal. */
  static String quote(String s) {
    StringBuilder b = new StringBuilder(s.length() + 2).append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
          else b.append(c);
        }
      }
    }
    return b.append('"').toString();
  }
}
