package ai.bakery.runtime.dashboard;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * Debian's chromium, headless, driven over the Chrome DevTools protocol (browser websocket, one flattened page
 * session). Collects console errors, uncaught exceptions and error log entries of the page.
 */
public final class HeadlessChromium implements AutoCloseable {
  static final Path BINARY = Path.of("/usr/bin/chromium");
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path profile;
  private final Process process;
  private final WebSocket socket;
  private final AtomicInteger ids = new AtomicInteger();
  private final Map<Integer, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();
  private final List<String> errors = new CopyOnWriteArrayList<>();
  private String session;

  public static boolean available() {
    return Files.isExecutable(BINARY);
  }

  public HeadlessChromium(int width, int height) throws Exception {
    profile = Files.createTempDirectory("bakery-chromium-");
    process = new ProcessBuilder(BINARY.toString(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--user-data-dir=" + profile, "--remote-debugging-port=0",
        "--window-size=" + width + "," + height, "about:blank")
        .redirectErrorStream(true).redirectOutput(profile.resolve("chromium.log").toFile()).start();
    Path portFile = profile.resolve("DevToolsActivePort");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    List<String> lines = List.of();
    while (lines.size() < 2) {
      if (!process.isAlive()) {
        throw new IllegalStateException("chromium exited: " + Files.readString(profile.resolve("chromium.log")));
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("chromium wrote no DevToolsActivePort in 30 s");
      }
      Thread.sleep(50);
      if (Files.exists(portFile)) {
        lines = Files.readAllLines(portFile);
      }
    }
    URI ws = URI.create("ws://127.0.0.1:" + lines.get(0).strip() + lines.get(1).strip());
    socket = HttpClient.newHttpClient().newWebSocketBuilder().connectTimeout(Duration.ofSeconds(10))
        .buildAsync(ws, new Listener()).get(10, TimeUnit.SECONDS);
  }

  /** Opens a page, attaches to it and turns on the domains that report errors. */
  public void open(URI url) throws Exception {
    String target = browser("Target.createTarget", Map.of("url", "about:blank")).get("targetId").asText();
    session = browser("Target.attachToTarget", Map.of("targetId", target, "flatten", true)).get("sessionId").asText();
    call("Runtime.enable", Map.of());
    call("Log.enable", Map.of());
    call("Page.enable", Map.of());
    call("Page.navigate", Map.of("url", url.toString()));
  }

  /** Evaluates a JavaScript expression in the page and returns its value as JSON. */
  public JsonNode eval(String expression) throws Exception {
    JsonNode r = call("Runtime.evaluate", Map.of("expression", expression, "returnByValue", true));
    if (r.has("exceptionDetails")) {
      throw new IllegalStateException("page threw on '" + expression + "': " + r.get("exceptionDetails"));
    }
    return r.path("result").path("value");
  }

  public byte[] screenshot() throws Exception {
    JsonNode r = call("Page.captureScreenshot", Map.of("format", "png"));
    return java.util.Base64.getDecoder().decode(r.get("data").asText());
  }

  public List<String> errors() {
    return List.copyOf(errors);
  }

  private JsonNode browser(String method, Map<String, ?> params) throws Exception {
    return send(null, method, params);
  }

  private JsonNode call(String method, Map<String, ?> params) throws Exception {
    return send(session, method, params);
  }

  private JsonNode send(String sessionId, String method, Map<String, ?> params) throws Exception {
    int id = ids.incrementAndGet();
    ObjectNode msg = JSON.createObjectNode();
    msg.put("id", id);
    msg.put("method", method);
    msg.set("params", JSON.valueToTree(params));
    if (sessionId != null) {
      msg.put("sessionId", sessionId);
    }
    CompletableFuture<JsonNode> reply = new CompletableFuture<>();
    pending.put(id, reply);
    synchronized (socket) {
      socket.sendText(JSON.writeValueAsString(msg), true).get(10, TimeUnit.SECONDS);
    }
    JsonNode r = reply.get(20, TimeUnit.SECONDS);
    if (r.has("error")) {
      throw new IllegalStateException(method + ": " + r.get("error"));
    }
    return r.path("result");
  }

  private void onMessage(JsonNode m) {
    if (m.has("id")) {
      CompletableFuture<JsonNode> f = pending.remove(m.get("id").asInt());
      if (f != null) {
        f.complete(m);
      }
      return;
    }
    JsonNode p = m.path("params");
    switch (m.path("method").asText()) {
      case "Runtime.exceptionThrown" -> errors.add("exception: " + p.path("exceptionDetails"));
      case "Runtime.consoleAPICalled" -> {
        if ("error".equals(p.path("type").asText()) || "assert".equals(p.path("type").asText())) {
          errors.add("console." + p.path("type").asText() + ": " + p.path("args"));
        }
      }
      case "Log.entryAdded" -> {
        if ("error".equals(p.path("entry").path("level").asText())) {
          errors.add("log: " + p.path("entry").path("text").asText() + " " + p.path("entry").path("url").asText());
        }
      }
      default -> { }
    }
  }

  private final class Listener implements WebSocket.Listener {
    private final StringBuilder partial = new StringBuilder();

    @Override
    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
      partial.append(data);
      if (last) {
        try {
          onMessage(JSON.readTree(partial.toString()));
        } catch (IOException e) {
          errors.add("unreadable DevTools message: " + e.getMessage());
        }
        partial.setLength(0);
      }
      ws.request(1);
      return null;
    }
  }

  @Override
  public void close() throws Exception {
    try {
      browser("Browser.close", Map.of());
    } catch (Exception e) {
      // the browser may already be gone; the process is ended below either way
    }
    socket.abort();
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    try (Stream<Path> files = Files.walk(profile)) {
      files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    }
  }
}
