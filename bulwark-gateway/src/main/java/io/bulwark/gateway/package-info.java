/**
 * The gateway: a health-checked reverse proxy in front of the API servers (Jetty server + Jetty
 * HttpClient), replacing HAProxy with manual switching by automatic, near-instant failover.
 *
 * <h2>Choosing a server</h2>
 * A server is <em>usable</em> while its admin state is {@code ready} and its health is {@code up}.
 * New requests go to the usable primary with the fewest requests in flight (ties round-robin); only
 * when no primary is usable, to the first usable backup in configuration order (HAProxy
 * {@code backup}, without {@code allbackups}). None usable: 503 problem with {@code Retry-After: 1}.
 *
 * <h2>Health</h2>
 * Active checks: {@code GET /health/ready} (2xx/3xx passes) every {@code interval} while a server
 * is steadily up, every {@code fastInterval} while it is down or has failed its last check;
 * {@code fall} failures take it down, {@code rise} passes bring it back. At start each server is
 * checked once, synchronously: it starts UP if that check passes, DOWN otherwise. Passive checks: a
 * refused connection or one that breaks during a live request takes the server down at once; it
 * then needs {@code rise} passed checks. A 5xx answer or a slow server is not a dead one: answers
 * pass through, timeouts answer 504.
 *
 * <h2>Retries</h2>
 * See {@link io.bulwark.gateway.RetryPolicy}: at most one retry, on another usable server, and only
 * before the server began answering: always if the request never left the gateway (connect
 * failure), otherwise only for GET/HEAD/OPTIONS or a request with an {@code Idempotency-Key}. The
 * body is buffered (up to {@code maxBodyBytes}, 413 beyond) so it can be sent again. The upstream
 * timeout is a deadline for the whole request, retry included.
 *
 * <h2>Slow and bad clients</h2>
 * Headers over 8 KiB: 431; malformed requests: 400 (both by Jetty, as problem+json). A client must
 * send a complete request within {@code requestReadTimeout} (default 10 s) of connecting or of its
 * previous response, or its connection is closed ({@link io.bulwark.gateway.RequestReadDeadlines}:
 * Jetty 12 has no header-read timeout and does not enforce a minimum data rate); a connection with
 * no I/O for {@code clientIdleTimeout} (30 s) is closed, except while its request waits for a server.
 *
 * <h2>Admin</h2>
 * {@link io.bulwark.gateway.AdminHandler}, on a loopback port: list servers, set
 * {@code ready|drain|maint}, health, metrics. In Java: {@link io.bulwark.gateway.Gateway#setState},
 * {@link io.bulwark.gateway.Gateway#awaitIdle}, {@link io.bulwark.gateway.Gateway#awaitHealth}.
 */
package io.bulwark.gateway;
