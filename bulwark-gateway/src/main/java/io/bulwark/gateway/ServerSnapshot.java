package io.bulwark.gateway;

import java.net.URI;
import java.time.Instant;

/**
 * One server as the gateway sees it at one moment.
 *
 * @param name backend name
 * @param url backend base URL
 * @param backup whether it is a backup server
 * @param state what the operator asked for
 * @param health what the checks say
 * @param usable ready and up: may get new requests (a backup gets them only while no primary is usable)
 * @param inFlight requests being proxied to it now
 * @param requests requests sent to it since the gateway started (retries included)
 * @param checksPassed health checks passed since start
 * @param checksFailed health checks failed since start
 * @param lastCheck outcome of the last check ({@code passed}, or why it failed), null before the first
 * @param lastCheckAt when the last check ended, null before the first
 * @param healthSince when the health last changed (or the gateway started)
 */
public record ServerSnapshot(
    String name, URI url, boolean backup, ServerState state, Health health, boolean usable, int inFlight,
    long requests, long checksPassed, long checksFailed, String lastCheck, Instant lastCheckAt, Instant healthSince) {}
