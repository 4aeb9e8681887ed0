package io.bulwark.gateway;

/**
 * When a request that got no response may be sent again, to another server (at most once).
 *
 * <ul>
 *   <li>A request that never left the gateway (no connection could be made, or the gateway's queue
 *       for the server was full) is always retried: no server can have seen it. Once a connection
 *       is picked the request counts as sent, even before the write is confirmed: a server may have
 *       read it already.
 *   <li>Once written, only a request that is safe to replay is retried: {@code GET}, {@code HEAD},
 *       {@code OPTIONS}, or any request carrying an {@code Idempotency-Key} header (the API answers a
 *       replay with the first outcome). A {@code POST} without a key is never replayed: the server
 *       may have acted on it, so the client gets 502 and decides.
 *   <li>Nothing is retried once the server started answering, after the request's deadline has
 *       passed (the budget is spent), or when the client went away.
 * </ul>
 */
final class RetryPolicy {
  static final int MAX_RETRIES = 1;
  static final String IDEMPOTENCY_KEY = "Idempotency-Key";

  private RetryPolicy() {}

  static boolean replayable(String method, boolean hasIdempotencyKey) {
    return hasIdempotencyKey || "GET".equals(method) || "HEAD".equals(method) || "OPTIONS".equals(method);
  }

  static boolean mayRetry(UpstreamFailure failure, boolean sent, boolean replayable, int retriesSoFar) {
    if (retriesSoFar >= MAX_RETRIES) return false;
    if (failure == UpstreamFailure.TIMEOUT || failure == UpstreamFailure.CLIENT) return false;
    return !sent || replayable;
  }
}
