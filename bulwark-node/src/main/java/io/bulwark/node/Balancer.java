package io.bulwark.node;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.bulwark.core.BulwarkException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** What the supervisor and a rolling restart need from a load balancer, for the built-in gateway and HAProxy. */
public interface Balancer {
  void setState(String server, String state) throws Exception;

  int inFlight(String server) throws Exception;

  /** Whether the balancer's health checks consider the server up (whatever its admin state). */
  boolean isUp(String server) throws Exception;

  /** The built-in gateway, through its admin API. */
  public final class Gateway implements Balancer {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final String admin;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    public Gateway(String admin) {
      this.admin = admin;
    }

    @Override
    public void setState(String server, String state) throws Exception {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(admin + "/servers/" + server + "/state"))
          .POST(HttpRequest.BodyPublishers.ofString(state)).build(), HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) throw new BulwarkException("gateway refused " + state + " for " + server + ": " + r.body());
    }

    private JsonNode server(String name) throws Exception {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(admin + "/servers")).build(),
          HttpResponse.BodyHandlers.ofString());
      for (JsonNode s : JSON.readTree(r.body())) if (s.path("name").asText().equals(name)) return s;
      throw new BulwarkException("the gateway has no server " + name);
    }

    @Override
    public int inFlight(String server) throws Exception {
      return server(server).path("inFlight").asInt();
    }

    @Override
    public boolean isUp(String server) throws Exception {
      return server(server).path("health").asText().equalsIgnoreCase("up");
    }
  }

  /** HAProxy, through its runtime API. */
  record Haproxy(HaproxyRuntime runtime) implements Balancer {
    @Override
    public void setState(String server, String state) {
      runtime.setState("api", server, state);
    }

    @Override
    public int inFlight(String server) {
      return runtime.currentSessions("api", server);
    }

    @Override
    public boolean isUp(String server) {
      // show stat reports a drained server that passes its checks as DRAIN, a failing one as DOWN
      String status = runtime.status("api", server);
      return status.startsWith("UP") && !status.contains("/") || status.equals("DRAIN");
    }
  }
}
