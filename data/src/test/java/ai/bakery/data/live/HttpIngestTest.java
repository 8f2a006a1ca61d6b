package ai.bakery.data.live;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.source.DatasetSource;
import ai.bakery.data.source.ReadOptions;
import ai.bakery.data.source.SkipCounter;
import ai.bakery.data.source.SkipReason;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.ActorSystem;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The ingest endpoint on loopback: back-pressure as 429, durability before acknowledgement, exact replay. */
class HttpIngestTest {
  static ActorSystem system;
  static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  @TempDir Path dir;

  @BeforeAll
  static void start() {
    system = ActorSystem.create("http-ingest-test");
  }

  @AfterAll
  static void stop() {
    system.terminate();
  }

  private HttpIngest ingest(Path log, int maxPending, String token) {
    return new HttpIngest(new DatasetSource("posted", log, null, ReadOptions.DEFAULTS), "127.0.0.1", 0, token,
        maxPending, 1, Duration.ofMillis(5), 4);
  }

  private static HttpResponse<String> post(int port, String body, String token) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/ingest"))
        .timeout(Duration.ofSeconds(20)).POST(HttpRequest.BodyPublishers.ofString(body));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void floodGets429sAndEveryAcknowledgedLineIsReadOnceAcrossARestart() throws Exception {
    Path log = dir.resolve("ingest/log.jsonl");
    SkipCounter skips = new SkipCounter();
    HttpIngest ingest = ingest(log, 16, null);
    LiveFeed<LiveRecord> feed = new LiveFeed<>(ingest.open(LivePosition.START, skips, system), 4, system, "t");
    int port = ingest.port();

    Set<String> acked = ConcurrentHashMap.newKeySet();
    AtomicInteger tooMany = new AtomicInteger();
    AtomicInteger unexpected = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(8);
    List<Future<?>> posts = new ArrayList<>();
    for (int t = 0; t < 8; t++) {
      int thread = t;
      posts.add(pool.submit(() -> {
        for (int i = 0; i < 20; i++) {
          String a = "t" + thread + "x" + i + "a";
          String b = "t" + thread + "x" + i + "b";
          HttpResponse<String> r = post(port, LiveTestData.record(a) + "\n" + LiveTestData.record(b) + "\n", null);
          if (r.statusCode() == 200) {
            acked.add(a);
            acked.add(b);
          } else if (r.statusCode() == 429) {
            assertEquals("1", r.headers().firstValue("Retry-After").orElse(""));
            tooMany.incrementAndGet();
          } else {
            unexpected.incrementAndGet();
          }
        }
        return null;
      }));
    }
    // a slow consumer while the flood runs
    List<LiveRecord> read = new ArrayList<>();
    while (!posts.stream().allMatch(Future::isDone)) {
      LiveRecord r = feed.poll(5);
      if (r != null) {
        read.add(r);
      }
      Thread.sleep(3);
    }
    for (Future<?> f : posts) {
      f.get();
    }
    pool.shutdown();
    assertEquals(0, unexpected.get());
    assertTrue(tooMany.get() > 0, "a flood against max_pending 16 is refused at times");
    assertTrue(acked.size() > 0);
    assertTrue(ingest.pending() <= 16, "never more unread than max_pending: " + ingest.pending());

    // the consumer reads on until there is room again (on a fast machine the flood ends with the buffer full)
    long room = System.currentTimeMillis() + 10_000;
    while (ingest.pending() >= 16 && System.currentTimeMillis() < room) {
      LiveRecord r = feed.poll(50);
      if (r != null) {
        read.add(r);
      }
    }
    // a line that is not JSON is refused in the reply and counted; its good neighbour is kept
    HttpResponse<String> mixed = post(port, "{oops\n" + LiveTestData.record("mixed") + "\n", null);
    assertEquals(200, mixed.statusCode(), mixed.body());
    assertEquals("{\"accepted\":1,\"rejected\":1}", mixed.body());
    acked.add("mixed");
    assertEquals(1, skips.count(SkipReason.MALFORMED_JSON));
    assertEquals(400, post(port, "[1, 2]\n", null).statusCode());

    // read a few more, then stop as a crash would: the position is right after the last record read
    long deadline = System.currentTimeMillis() + 10_000;
    int target = Math.min(acked.size(), read.size() + 5);
    while (read.size() < target && System.currentTimeMillis() < deadline) {
      LiveRecord r = feed.poll(50);
      if (r != null) {
        read.add(r);
      }
    }
    LivePosition saved = new LivePosition(Map.of(HttpIngest.LOG_KEY, read.get(read.size() - 1).next()), List.of());
    feed.close();
    ingest.close();

    HttpIngest again = ingest(log, 1000, null);
    LiveFeed<LiveRecord> feed2 = new LiveFeed<>(again.open(saved, skips, system), 4, system, "t2");
    deadline = System.currentTimeMillis() + 20_000;
    while (read.size() < acked.size() && System.currentTimeMillis() < deadline) {
      LiveRecord r = feed2.poll(50);
      if (r != null) {
        read.add(r);
      }
    }
    assertEquals(null, feed2.poll(200), "nothing beyond what was acknowledged");
    feed2.close();
    again.close();

    List<String> ids = read.stream().map(r -> LiveTestData.idOf(r.sample())).toList();
    assertEquals(acked, new HashSet<>(ids), "every acknowledged line is read");
    assertEquals(ids.size(), new HashSet<>(ids).size(), "and only once");
  }

  @Test
  void tokenIsRequiredOffLoopbackAndCheckedWhenSet() throws Exception {
    Path log = dir.resolve("log.jsonl");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new HttpIngest(
        new DatasetSource("posted", log, null, ReadOptions.DEFAULTS), "0.0.0.0", 0, null, 10, 1,
        Duration.ofMillis(5), 4));
    assertTrue(e.getMessage().contains("token"), e.getMessage());

    HttpIngest ingest = ingest(log, 10, "bakery-test-secret-ingest");
    LiveFeed<LiveRecord> feed = new LiveFeed<>(ingest.open(LivePosition.START, new SkipCounter(), system), 4,
        system, "t");
    try {
      assertEquals(401, post(ingest.port(), LiveTestData.record("no"), null).statusCode());
      assertEquals(401, post(ingest.port(), LiveTestData.record("no"), "bakery-test-secret-wrong").statusCode());
      assertEquals(200, post(ingest.port(), LiveTestData.record("yes"), "bakery-test-secret-ingest").statusCode());
      LiveRecord r = feed.poll(5_000);
      assertEquals("yes", LiveTestData.idOf(r.sample()));
      assertEquals(null, feed.poll(100));
    } finally {
      feed.close();
      ingest.close();
    }
  }

  @Test
  void tornLineAtTheEndOfTheLogIsDroppedOnOpen() throws IOException {
    Path log = dir.resolve("torn.jsonl");
    LiveTestData.append(log, LiveTestData.record("kept"));
    java.nio.file.Files.writeString(log, "{\"messages\": [", java.nio.file.StandardOpenOption.APPEND);
    HttpIngest ingest = ingest(log, 10, null);
    LiveFeed<LiveRecord> feed = new LiveFeed<>(ingest.open(LivePosition.START, new SkipCounter(), system), 4,
        system, "t");
    try {
      assertEquals("kept", LiveTestData.idOf(feed.poll(5_000).sample()));
      assertEquals(LiveTestData.record("kept").length() + 1, java.nio.file.Files.size(log));
    } finally {
      feed.close();
      ingest.close();
    }
  }
}
