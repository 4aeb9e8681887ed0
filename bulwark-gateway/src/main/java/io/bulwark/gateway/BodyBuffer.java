package io.bulwark.gateway;

import java.nio.ByteBuffer;
import java.util.Arrays;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;

/**
 * Reads a request body into memory without blocking a thread (demand-driven), refusing it as soon as
 * it grows past the limit. Buffering is what makes a retry on another server possible.
 */
final class BodyBuffer implements Runnable {
  private static final int INITIAL_CHUNKED_CAPACITY = 8 * 1024;

  /** Where the outcome goes; exactly one method is called, once. */
  interface Listener {
    void onBody(byte[] body, int length);

    void onTooLarge();

    void onFailure(Throwable failure);
  }

  private final Request request;
  private final long max;
  private final Listener listener;
  private byte[] data;
  private int length;

  private BodyBuffer(Request request, long max, long declared, Listener listener) {
    this.request = request;
    this.max = max;
    this.listener = listener;
    this.data = new byte[(int) (declared >= 0 ? declared : Math.min(max, INITIAL_CHUNKED_CAPACITY))];
  }

  /** Reads the body of {@code request}, whose declared length (or -1 when chunked) is at most {@code max}. */
  static void read(Request request, long max, Listener listener) {
    new BodyBuffer(request, max, request.getLength(), listener).run();
  }

  @Override
  public void run() {
    while (true) {
      Content.Chunk chunk = request.read();
      if (chunk == null) {
        request.demand(this);
        return;
      }
      if (Content.Chunk.isFailure(chunk)) {
        listener.onFailure(chunk.getFailure());
        return;
      }
      ByteBuffer buf = chunk.getByteBuffer();
      int n = buf.remaining();
      if ((long) length + n > max) {
        chunk.release();
        listener.onTooLarge();
        return;
      }
      if (length + n > data.length) {
        data = Arrays.copyOf(data, (int) Math.min(max, Math.max((long) data.length * 2, (long) length + n)));
      }
      buf.get(data, length, n);
      length += n;
      chunk.release();
      if (chunk.isLast()) {
        listener.onBody(data, length);
        return;
      }
    }
  }
}
