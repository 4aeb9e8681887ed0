package io.bulwark.cli.bench;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * One keep-alive HTTP/1.1 connection for the load generator: writes a request, reads the status and
 * a Content-Length body. Deliberately minimal so the load generator costs as little CPU as possible
 * on a machine it shares with the server it measures. Not a general HTTP client.
 */
public final class HttpConnection implements AutoCloseable {
  private final Socket socket;
  private final OutputStream out;
  private final InputStream in;
  private final byte[] line = new byte[8192];

  public HttpConnection(String host, int port) throws IOException {
    this(host, port, null);
  }

  /** A connection from {@code localAddress} (another loopback address: another client, as the server sees it), or any if null. */
  public HttpConnection(String host, int port, String localAddress) throws IOException {
    socket = new Socket();
    if (localAddress != null) socket.bind(new InetSocketAddress(localAddress, 0));
    socket.setTcpNoDelay(true);
    socket.connect(new InetSocketAddress(host, port), 2000);
    socket.setSoTimeout(30_000);
    out = new BufferedOutputStream(socket.getOutputStream(), 16 * 1024);
    in = new BufferedInputStream(socket.getInputStream(), 64 * 1024);
  }

  public static byte[] request(String method, String path, String apiKey, String extraHeaders, byte[] body) {
    String head = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + apiKey + "\r\n"
        + (body == null ? "" : "Content-Type: application/json\r\nContent-Length: " + body.length + "\r\n")
        + extraHeaders + "\r\n";
    byte[] h = head.getBytes(StandardCharsets.ISO_8859_1);
    if (body == null) return h;
    byte[] all = new byte[h.length + body.length];
    System.arraycopy(h, 0, all, 0, h.length);
    System.arraycopy(body, 0, all, h.length, body.length);
    return all;
  }

  /** Sends a complete request and returns the response status; the body is read and, if asked, returned. */
  public int exchange(byte[] request, byte[][] bodyOut) throws IOException {
    int status = send(request, bodyOut);
    if (serverClosed) throw new EOFException("server closed the connection");
    return status;
  }

  /** Whether the last response said {@code Connection: close}: the connection cannot be used again. */
  private boolean serverClosed;
  /** The last response's Retry-After in seconds; 0 when it had none. */
  private int retryAfterSeconds;

  /** The last response's Retry-After in seconds (0: none). */
  public int retryAfterSeconds() {
    return retryAfterSeconds;
  }

  /**
   * Like {@link #exchange}, but a response with {@code Connection: close} is returned too (a refusal
   * usually closes); {@link #reusable} says whether another request may follow on this connection.
   */
  public int send(byte[] request, byte[][] bodyOut) throws IOException {
    serverClosed = false;
    retryAfterSeconds = 0;
    out.write(request);
    out.flush();
    int status = parseStatus(readLine());
    int length = 0;
    boolean close = false;
    for (String h = readLine(); !h.isEmpty(); h = readLine()) {
      int colon = h.indexOf(':');
      if (colon < 0) continue;
      String name = h.substring(0, colon).trim();
      if (name.equalsIgnoreCase("Content-Length")) length = Integer.parseInt(h.substring(colon + 1).trim());
      else if (name.equalsIgnoreCase("Connection") && h.toLowerCase().contains("close")) close = true;
      else if (name.equalsIgnoreCase("Transfer-Encoding")) throw new IOException("chunked responses are not supported here");
      else if (name.equalsIgnoreCase("Retry-After")) retryAfterSeconds = retryAfter(h.substring(colon + 1));
    }
    byte[] body = in.readNBytes(length);
    if (body.length < length) throw new EOFException("connection closed mid-body");
    if (bodyOut != null) bodyOut[0] = body;
    serverClosed = close;
    return status;
  }

  public boolean reusable() {
    return !serverClosed && !socket.isClosed();
  }

  /** Sends bytes without waiting for an answer (the start of a request whose body never comes). */
  public void sendRaw(byte[] bytes) throws IOException {
    out.write(bytes);
    out.flush();
  }

  /** Reads a response status (and its headers) if one comes within {@code millis}; -1 if none does, or the connection closed first. */
  public int awaitStatus(int millis) throws IOException {
    socket.setSoTimeout(millis);
    retryAfterSeconds = 0;
    try {
      int status = parseStatus(readLine());
      socket.setSoTimeout(30_000);
      for (String h = readLine(); !h.isEmpty(); h = readLine()) {
        int colon = h.indexOf(':');
        if (colon > 0 && h.substring(0, colon).trim().equalsIgnoreCase("Retry-After")) retryAfterSeconds = retryAfter(h.substring(colon + 1));
      }
      return status;
    } catch (java.net.SocketTimeoutException | EOFException e) {
      return -1;
    } finally {
      if (!socket.isClosed()) socket.setSoTimeout(30_000);
    }
  }

  private String readLine() throws IOException {
    int n = 0;
    while (true) {
      int b = in.read();
      if (b < 0) throw new EOFException("connection closed");
      if (b == '\n') break;
      if (b != '\r' && n < line.length) line[n++] = (byte) b;
    }
    return new String(line, 0, n, StandardCharsets.ISO_8859_1);
  }

  private static int retryAfter(String value) {
    try {
      return Integer.parseInt(value.trim());
    } catch (NumberFormatException e) {
      return 0; // an HTTP date: not sent by Bulwark
    }
  }

  private static int parseStatus(String statusLine) throws IOException {
    if (!statusLine.startsWith("HTTP/1.1 ") || statusLine.length() < 12) throw new IOException("bad status line: " + statusLine);
    return Integer.parseInt(statusLine.substring(9, 12));
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
