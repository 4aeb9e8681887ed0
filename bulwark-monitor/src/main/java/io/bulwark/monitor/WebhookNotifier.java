package io.bulwark.monitor;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/**
 * Webhooks: a POST of JSON, either the incident itself ({@code format = "json"}, the default) or a
 * Slack-compatible {@code {"text": "…"}} (Slack's incoming webhooks, Mattermost, Rocket.Chat). Any 2xx
 * is delivered; anything else is retried by the monitor.
 */
public final class WebhookNotifier implements Notifier {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration TIMEOUT = Duration.ofSeconds(10);
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(TIMEOUT).followRedirects(HttpClient.Redirect.NEVER).build();

  @Override
  public void send(MonitorPolicy.Recipient to, Notice notice) throws IOException {
    String body = to.slack()
        ? JSON.createObjectNode().put("text", "*" + notice.subject() + "*\n" + notice.text()).toString()
        : notice.json().toString();
    HttpRequest request = HttpRequest.newBuilder(URI.create(to.webhook())).timeout(TIMEOUT)
        .header("Content-Type", "application/json").header("User-Agent", "bulwark-monitor")
        .POST(HttpRequest.BodyPublishers.ofString(body)).build();
    HttpResponse<String> r;
    try {
      r = http.send(request, HttpResponse.BodyHandlers.ofString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while posting to the webhook", e);
    }
    if (r.statusCode() / 100 != 2) {
      String b = r.body() == null ? "" : r.body().strip();
      throw new IOException("the webhook " + host(to.webhook()) + " answered " + r.statusCode() + (b.isEmpty() ? "" : ": "
          + b.substring(0, Math.min(200, b.length()))));
    }
  }

  /** The webhook's host only: its path is often the secret (Slack's are). */
  static String host(String url) {
    URI u = URI.create(url);
    return u.getScheme() + "://" + u.getHost() + (u.getPort() > 0 ? ":" + u.getPort() : "") + "/…";
  }

  @Override
  public void close() {
    http.close();
  }
}
