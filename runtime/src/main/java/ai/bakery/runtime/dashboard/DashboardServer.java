package ai.bakery.runtime.dashboard;

import static org.apache.pekko.http.javadsl.server.Directives.complete;
import static org.apache.pekko.http.javadsl.server.Directives.completeOK;
import static org.apache.pekko.http.javadsl.server.Directives.concat;
import static org.apache.pekko.http.javadsl.server.Directives.get;
import static org.apache.pekko.http.javadsl.server.Directives.optionalHeaderValueByName;
import static org.apache.pekko.http.javadsl.server.Directives.path;
import static org.apache.pekko.http.javadsl.server.Directives.pathEndOrSingleSlash;
import static org.apache.pekko.http.javadsl.server.Directives.pathPrefix;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.marshalling.sse.EventStreamMarshalling;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.HttpChallenge;
import org.apache.pekko.http.javadsl.model.headers.WWWAuthenticate;
import org.apache.pekko.http.javadsl.model.sse.ServerSentEvent;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.BoundedSourceQueue;
import org.apache.pekko.stream.QueueOfferResult;
import org.apache.pekko.stream.javadsl.Source;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The run's web dashboard over Pekko HTTP: {@code /} (a self-contained page, no external resources),
 * {@code /api/state} (the {@link RunState} as JSON), {@code /api/samples} (the latest {@link SampleSet}), {@code /events} (server-sent events: a {@code state} event on
 * connect, then one event per change, named by {@link RunMonitor.Event#type()}) and {@code /metrics} (Prometheus
 * text).
 *
 * <p>Bound to loopback by default. Bound anywhere else it refuses to start without a token, and then answers 401
 * to any request without {@code Authorization: Bearer <token>} (Prometheus' {@code authorization.credentials_file}
 * sends it; a browser is best pointed at a loopback dashboard through an SSH tunnel). The token is never logged.
 */
public final class DashboardServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(DashboardServer.class);
  static final String PAGE = "ai/bakery/runtime/dashboard/index.html";
  private static final int EVENT_BUFFER = 1024;
  static final ObjectMapper JSON = JsonMapper.builder().enable(JsonWriteFeature.WRITE_NAN_AS_STRINGS).build();

  private final RunMonitor monitor;
  private final ActorSystem system;
  private final boolean ownsSystem;
  private final ServerBinding binding;
  private final byte[] page;
  private final byte[] token;

  private DashboardServer(ActorSystem system, boolean ownsSystem, RunMonitor monitor, DashboardConfig config,
      Optional<String> token) {
    this.system = system;
    this.ownsSystem = ownsSystem;
    this.monitor = monitor;
    this.page = resource(PAGE);
    this.token = token.map(t -> t.getBytes(StandardCharsets.UTF_8)).orElse(null);
    try {
      this.binding = Http.get(system).newServerAt(config.host(), config.port()).bind(routes())
          .toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while binding the dashboard", e);
    } catch (ExecutionException | TimeoutException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      throw new IllegalStateException("dashboard: cannot bind " + config.host() + ":" + config.port() + ": "
          + cause.getMessage(), cause);
    }
    LOG.info("Dashboard at {}{}", uri(), this.token == null ? "" : " (bearer token required)");
  }

  /** Starts a dashboard on its own actor system, closed with the server. */
  public static DashboardServer start(RunMonitor monitor, DashboardConfig config) {
    Optional<String> token = checkedToken(config);
    Config conf = ConfigFactory.parseString("""
        pekko.loglevel = WARNING
        pekko.stdout-loglevel = WARNING
        pekko.log-dead-letters = off
        pekko.coordinated-shutdown.run-by-jvm-shutdown-hook = off
        """).withFallback(ConfigFactory.load());
    ActorSystem system = ActorSystem.create("bakery-dashboard", conf);
    try {
      return new DashboardServer(system, true, monitor, config, token);
    } catch (RuntimeException e) {
      system.terminate();
      throw e;
    }
  }

  /** Starts a dashboard on an existing actor system (e.g. the coordinator's), which the caller keeps. */
  public static DashboardServer start(ActorSystem system, RunMonitor monitor, DashboardConfig config) {
    return new DashboardServer(system, false, monitor, config, checkedToken(config));
  }

  private static Optional<String> checkedToken(DashboardConfig config) {
    Optional<String> token = config.token(System.getenv());
    if (!config.loopback() && token.isEmpty()) {
      throw new IllegalArgumentException("dashboard.host: " + config.host() + " is not loopback, so a token is"
          + " required: set dashboard.token_file or the " + (config.tokenEnv() == null
              ? DashboardConfig.DEFAULT_TOKEN_ENV : config.tokenEnv()) + " environment variable");
    }
    // On loopback a configured token is still enforced: the user asked for it.
    return token;
  }

  public InetSocketAddress address() {
    return binding.localAddress();
  }

  public URI uri() {
    InetSocketAddress a = address();
    String host = a.getAddress().getHostAddress();
    if (host.contains(":")) {
      host = "[" + host + "]";
    }
    return URI.create("http://" + host + ":" + a.getPort() + "/");
  }

  private Route routes() {
    return authorized(concat(
        pathEndOrSingleSlash(() -> get(() -> complete(HttpEntities.create(ContentTypes.TEXT_HTML_UTF8, page)))),
        pathPrefix("api", () -> concat(
            path("state", () -> get(() -> complete(
                HttpEntities.create(ContentTypes.APPLICATION_JSON, json(monitor.snapshot()))))),
            path("samples", () -> get(() -> complete(
                HttpEntities.create(ContentTypes.APPLICATION_JSON, json(latestSamples()))))))),
        path("events", () -> get(() -> completeOK(events(), EventStreamMarshalling.toEventStream()))),
        path("metrics", () -> get(() -> complete(
            HttpEntities.create(ContentTypes.TEXT_PLAIN_UTF8, PrometheusText.render(monitor.snapshot())))))));
  }

  /** The latest samples, or an empty set at step -1 before the first. */
  private Object latestSamples() {
    SampleSet s = monitor.latestSamples();
    return s != null ? s : new SampleSet(-1, java.util.List.of(), null, null, null);
  }

  private Route authorized(Route inner) {
    if (token == null) {
      return inner;
    }
    return optionalHeaderValueByName("Authorization", header -> {
      if (header.map(h -> h.startsWith("Bearer ") && matches(h.substring(7).strip())).orElse(false)) {
        return inner;
      }
      return complete(HttpResponse.create().withStatus(StatusCodes.UNAUTHORIZED)
          .addHeader(WWWAuthenticate.create(HttpChallenge.createOAuth2("bakery")))
          .withEntity("401: this dashboard needs Authorization: Bearer <token>\n"));
    });
  }

  private boolean matches(String candidate) {
    return MessageDigest.isEqual(token, candidate.getBytes(StandardCharsets.UTF_8));
  }

  /** A state event first, then every change; a slow client loses events (the page re-reads the state). */
  private Source<ServerSentEvent, NotUsed> events() {
    Pair<BoundedSourceQueue<ServerSentEvent>, Source<ServerSentEvent, NotUsed>> pre =
        Source.<ServerSentEvent>queue(EVENT_BUFFER).preMaterialize(system);
    BoundedSourceQueue<ServerSentEvent> queue = pre.first();
    AutoCloseable[] sub = new AutoCloseable[1];
    sub[0] = monitor.subscribe(e -> {
      QueueOfferResult r = queue.offer(ServerSentEvent.create(json(e.payload()), e.type()));
      if (r instanceof QueueOfferResult.QueueClosed$ || r instanceof QueueOfferResult.Failure) {
        closeQuietly(sub[0]);
      }
    });
    ServerSentEvent first = ServerSentEvent.create(json(monitor.snapshot()), "state");
    return Source.single(first).concat(pre.second())
        .keepAlive(Duration.ofSeconds(10), ServerSentEvent::heartbeat)
        .watchTermination((mat, done) -> {
          done.whenComplete((d, t) -> {
            closeQuietly(sub[0]);
            queue.complete();
          });
          return mat;
        });
  }

  private static void closeQuietly(AutoCloseable c) {
    try {
      if (c != null) {
        c.close();
      }
    } catch (Exception e) {
      LOG.debug("closing a dashboard subscription: {}", e.toString());
    }
  }

  static String json(Object o) {
    try {
      return JSON.writeValueAsString(o);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("dashboard: cannot write JSON for " + o.getClass().getSimpleName(), e);
    }
  }

  private static byte[] resource(String name) {
    try (InputStream in = DashboardServer.class.getClassLoader().getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException("dashboard page missing from the classpath: " + name);
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(name, e);
    }
  }

  @Override
  public void close() {
    try {
      binding.terminate(Duration.ofSeconds(2)).toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      LOG.warn("Dashboard did not unbind cleanly: {}", e.toString());
    }
    if (ownsSystem) {
      system.terminate();
      try {
        system.getWhenTerminated().toCompletableFuture().get(10, TimeUnit.SECONDS);
      } catch (Exception e) {
        LOG.warn("Dashboard actor system did not stop in 10 s: {}", e.toString());
      }
    }
  }
}
