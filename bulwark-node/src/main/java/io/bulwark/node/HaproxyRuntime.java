package io.bulwark.node;

import io.bulwark.core.BulwarkException;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** HAProxy's runtime API over its stats socket: one command per connection. */
public record HaproxyRuntime(Path socket) {

  String command(String command) {
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(socket));
      ch.write(ByteBuffer.wrap((command + "\n").getBytes(StandardCharsets.UTF_8)));
      ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
      StringBuilder out = new StringBuilder();
      while (ch.read(buf) >= 0) {
        buf.flip();
        out.append(StandardCharsets.UTF_8.decode(buf));
        buf.clear();
      }
      return out.toString();
    } catch (IOException e) {
      throw new BulwarkException("cannot talk to HAProxy's runtime API at " + socket + ": " + e.getMessage()
          + "; is HAProxy running (bulwark up --lb haproxy)?", e);
    }
  }

  /** Sets a server's admin state: ready, drain or maint. */
  void setState(String backend, String server, String state) {
    String answer = command("set server " + backend + "/" + server + " state " + state).trim();
    if (!answer.isEmpty()) throw new BulwarkException("HAProxy refused 'set server " + server + " state " + state + "': " + answer);
  }

  /** Current sessions (in-flight requests) of a server, from {@code show stat}. */
  int currentSessions(String backend, String server) {
    for (String line : command("show stat").split("\n")) {
      String[] f = line.split(",", -1);
      if (f.length > 4 && f[0].equals(backend) && f[1].equals(server)) return Integer.parseInt(f[4]);
    }
    throw new BulwarkException("HAProxy has no server " + backend + "/" + server);
  }

  /** The operational status column of {@code show stat} (UP, DOWN, DRAIN, MAINT, ...). */
  String status(String backend, String server) {
    for (String line : command("show stat").split("\n")) {
      String[] f = line.split(",", -1);
      if (f.length > 17 && f[0].equals(backend) && f[1].equals(server)) return f[17];
    }
    throw new BulwarkException("HAProxy has no server " + backend + "/" + server);
  }
}
