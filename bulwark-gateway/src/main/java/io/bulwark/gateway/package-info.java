/** The gateway: a health-checked reverse proxy in front of the API servers. */
package io.bulwark.gateway;
