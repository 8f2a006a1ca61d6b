package ai.bakery.runtime.dashboard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.net.Socket;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DashboardServerTest {
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  static HttpResponse<String> get(URI uri, String auth) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10));
    if (auth != null) {
      b.header("Authorization", auth);
    }
    return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  static RunMonitor demoRun() {
    RunMonitor m = new RunMonitor("demo");
    m.putMember(new Member("worker-0", "trainer", "up", "cpu", 0));
    m.onStep(new StepRecord(0, 3.0, 0.8, 1e-4, Double.POSITIVE_INFINITY, 100, 0.01, 10, true, 0));
    m.onStep(new StepRecord(1, 2.0, 0.6, 1e-4, 2.0, 100, 0.01, 10, false, 0));
    m.setDataHealth(new DataHealth(Map.of("packed", 2), Map.of("corrupt_image", 1L), 0));
    return m;
  }

  @Test
  void servesThePageTheStateAndTheMetricsOnLoopback() throws Exception {
    RunMonitor m = demoRun();
    try (DashboardServer server = DashboardServer.start(m, DashboardConfig.localhost(0))) {
      assertTrue(server.address().getAddress().isLoopbackAddress());
      assertTrue(server.address().getPort() > 0);
      HttpResponse<String> page = get(server.uri(), null);
      assertEquals(200, page.statusCode());
      assertTrue(page.headers().firstValue("Content-Type").orElse("").startsWith("text/html"));
      assertTrue(page.body().contains("id=\"plot-loss\""));
      assertFalse(java.util.regex.Pattern.compile("(src|href)\\s*=\\s*\"(https?:)?//|@import|url\\(\\s*['\"]?(https?:)?//")
          .matcher(page.body()).find(), "no external resources");

      HttpResponse<String> state = get(server.uri().resolve("api/state"), null);
      assertEquals(200, state.statusCode());
      assertTrue(state.headers().firstValue("Content-Type").orElse("").startsWith("application/json"));
      JsonNode s = new ObjectMapper().readTree(state.body());
      assertEquals("demo", s.get("job").asText());
      assertEquals(1, s.get("step").asLong());
      assertEquals(2, s.get("series").size());
      assertEquals("Infinity", s.get("series").get(0).get("gradNorm").asText(), "non-finite numbers as strings");
      assertEquals(2.0, s.get("series").get(1).get("ce").asDouble());
      assertEquals("worker-0", s.get("members").get(0).get("name").asText());
      assertEquals(1, s.get("data").get("skipsByReason").get("corrupt_image").asLong());

      HttpResponse<String> metrics = get(server.uri().resolve("metrics"), null);
      assertEquals(200, metrics.statusCode());
      assertTrue(metrics.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));
      Map<String, Double> p = PrometheusTextTest.parse(metrics.body());
      assertEquals(1.0, p.get("bakery_step"));
      assertEquals(2.0, p.get("bakery_loss{kind=\"ce\"}"));
      assertEquals(1.0, p.get("bakery_data_skips_total{reason=\"corrupt_image\"}"));

      assertEquals(404, get(server.uri().resolve("nothing"), null).statusCode());
    }
  }

  @Test
  void eventStreamStartsWithTheStateThenDeliversPushedSteps() throws Exception {
    RunMonitor m = demoRun();
    try (DashboardServer server = DashboardServer.start(m, DashboardConfig.localhost(0))) {
      // A raw HTTP/1.0 socket: no chunking, and closing it really drops the connection.
      try (Socket socket = new Socket(server.address().getAddress(), server.address().getPort());
          BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8))) {
        socket.setSoTimeout(10_000);
        socket.getOutputStream().write("GET /events HTTP/1.0\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n"
            .getBytes(StandardCharsets.US_ASCII));
        assertTrue(in.readLine().matches("HTTP/1\\.[01] 200 OK"));
        boolean eventStream = false;
        for (String h = in.readLine(); !h.isEmpty(); h = in.readLine()) {
          eventStream |= h.toLowerCase(java.util.Locale.ROOT).startsWith("content-type: text/event-stream");
        }
        assertTrue(eventStream, "Content-Type text/event-stream");
        Map<String, String> first = readEvent(in);
        assertEquals("state", first.get("event"));
        assertEquals("demo", new ObjectMapper().readTree(first.get("data")).get("job").asText());
        waitFor(() -> m.subscriberCount() > 0);
        m.onStep(new StepRecord(2, 1.25, 0.5, 1e-4, 1.0, 100, 0.01, 10, false, 0));
        m.putMember(new Member("worker-1", "trainer", "up", "cpu", 0));
        Map<String, String> step = readEvent(in);
        assertEquals("step", step.get("event"));
        JsonNode r = new ObjectMapper().readTree(step.get("data"));
        assertEquals(2, r.get("step").asLong());
        assertEquals(1.25, r.get("ce").asDouble());
        Map<String, String> members = readEvent(in);
        assertEquals("members", members.get("event"));
        assertTrue(members.get("data").contains("worker-1"));
      }
      // A gone client is noticed when a write fails (the next step or the 10 s heartbeat); then it unsubscribes.
      long[] next = {3};
      waitFor(() -> {
        m.onStep(new StepRecord(next[0]++, 1, 1, 1e-4, 1, 1, 0, 1, false, 0));
        return m.subscriberCount() == 0;
      });
    }
  }

  /** The fields of the next event that has data (heartbeats have none), as the SSE spec parses them. */
  private static Map<String, String> readEvent(BufferedReader in) throws Exception {
    while (true) {
      Map<String, String> fields = new java.util.HashMap<>();
      String line;
      while ((line = in.readLine()) != null && !line.isEmpty()) {
        int colon = line.indexOf(':');
        if (colon <= 0) {
          continue;
        }
        String value = line.substring(colon + 1);
        fields.merge(line.substring(0, colon), value.startsWith(" ") ? value.substring(1) : value,
            (a, b) -> a + "\n" + b);
      }
      if (line == null) {
        throw new AssertionError("event stream ended");
      }
      if (fields.containsKey("data")) {
        return fields;
      }
    }
  }

  static void waitFor(java.util.function.BooleanSupplier cond) throws InterruptedException {
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (!cond.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("condition not met in 10 s");
      }
      Thread.sleep(20);
    }
  }

  @Test
  void offLoopbackEveryPathNeedsTheBearerToken(@TempDir Path dir) throws Exception {
    Path tokenFile = dir.resolve("token");
    Files.writeString(tokenFile, "bakery-test-secret-dashboard\n");
    DashboardConfig config = new DashboardConfig("0.0.0.0", 0, tokenFile, null);
    assertFalse(config.loopback());
    try (DashboardServer server = DashboardServer.start(demoRun(), config)) {
      URI base = URI.create("http://127.0.0.1:" + server.address().getPort() + "/");
      for (String path : List.of("", "api/state", "metrics", "events")) {
        HttpResponse<String> denied = get(base.resolve(path), null);
        assertEquals(401, denied.statusCode(), path);
        assertFalse(denied.body().contains("bakery-test-secret"), "the token must not leak");
        assertTrue(denied.headers().firstValue("WWW-Authenticate").isPresent());
        assertEquals(401, get(base.resolve(path), "Bearer bakery-test-secret-wrong").statusCode(), path);
        assertEquals(401, get(base.resolve(path), "Basic czNjcmV0LXRva2Vu").statusCode(), path);
      }
      assertEquals(200, get(base.resolve("api/state"), "Bearer bakery-test-secret-dashboard").statusCode());
      assertEquals(200, get(base.resolve("metrics"), "Bearer bakery-test-secret-dashboard").statusCode());
    }
  }

  @Test
  void offLoopbackWithoutATokenRefusesToStartAndNamesTheSetting(@TempDir Path dir) throws Exception {
    DashboardConfig none = new DashboardConfig("0.0.0.0", 0, null, "BAKERY_TEST_TOKEN_THAT_IS_NEVER_SET");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> DashboardServer.start(new RunMonitor("x"), none));
    assertTrue(e.getMessage().contains("token_file") && e.getMessage().contains("BAKERY_TEST_TOKEN_THAT_IS_NEVER_SET"),
        e.getMessage());
    Path empty = dir.resolve("empty");
    Files.writeString(empty, "  \n");
    IllegalArgumentException e2 = assertThrows(IllegalArgumentException.class,
        () -> DashboardServer.start(new RunMonitor("x"), new DashboardConfig("0.0.0.0", 0, empty, null)));
    assertTrue(e2.getMessage().contains("is empty"), e2.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new DashboardConfig(null, 70000, null, null));
  }
}
