package ai.bakery.data.live;

import ai.bakery.data.DataConfig;
import ai.bakery.data.DataPipeline;
import ai.bakery.data.group.PipelineFactory;
import ai.bakery.data.image.ImageTransform;
import ai.bakery.data.pack.PackedBatch;
import ai.bakery.data.plan.SequencePlanner;
import ai.bakery.data.shard.GroupSpec;
import ai.bakery.data.source.DatasetSource;
import ai.bakery.data.source.ReadOptions;
import ai.bakery.data.text.TextTokenizer;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code bakery bench ingest}: samples per second accepted by the HTTP ingest endpoint (each line fsynced
 * before its reply) and packed by a pipeline whose only group is that live source, with concurrent clients
 * posting text-only {@code messages} lines over loopback and retrying on 429; with a broker given, the same
 * for a Kafka topic (records acknowledged by the broker with acks=all, consumed by {@link KafkaSource}).
 */
public final class IngestBench {
  /**
   * @param clients concurrent posting clients
   * @param linesPerRequest JSON lines per POST
   * @param seconds how long the measured window lasts
   * @param maxPending the endpoint's max_pending
   */
  public record Config(int clients, int linesPerRequest, double seconds, int maxPending) {
    public static Config defaults() {
      return new Config(4, 16, 5, 4096);
    }

    public Config {
      if (clients < 1 || linesPerRequest < 1 || !(seconds > 0) || maxPending < 1) {
        throw new IllegalArgumentException("ingest bench: clients, lines per request, seconds and max_pending must"
            + " be positive");
      }
    }
  }

  private IngestBench() {}

  /** Runs the benchmark with its log under {@code dir}; returns rows {metric, value, unit}. */
  public static List<Map<String, Object>> run(Path dir, DataConfig config, Config bench) throws Exception {
    HttpIngest ingest = new HttpIngest(new DatasetSource("bench", dir.resolve("ingest.jsonl"), null,
        ReadOptions.DEFAULTS), "127.0.0.1", 0, null, bench.maxPending(), 1, Duration.ofMillis(2), 256);
    AtomicLong accepted = new AtomicLong();
    AtomicLong refused = new AtomicLong();
    AtomicBoolean stop = new AtomicBoolean();
    long packs = 0;
    long packed = 0;
    long tokens = 0;
    double seconds;
    ExecutorService clients = Executors.newFixedThreadPool(bench.clients());
    try (TextTokenizer tokenizer = TextTokenizer.tiny()) {
      SequencePlanner planner = new SequencePlanner(config, tokenizer.specialTokens(), tokenizer,
          ImageTransform.of(PipelineFactory.LMMS_VAE), ImageTransform.of(PipelineFactory.LMMS_VIT));
      GroupSpec group = GroupSpec.live("posted", 1, false, true, planner, new LiveSpec(() -> ingest, 1024));
      try (DataPipeline pipeline = DataPipeline.builder().setGroups(List.of(group)).setConfig(config)
          .setTokens(tokenizer.specialTokens()).setRank(0, 1).build()) {
        int port = waitForPort(ingest);
        HttpClient http = HttpClient.newHttpClient();
        List<java.util.concurrent.Future<Void>> posting = new ArrayList<>();
        for (int c = 0; c < bench.clients(); c++) {
          int client = c;
          posting.add(clients.submit(() -> post(http, port, client, bench.linesPerRequest(), stop, accepted,
              refused)));
        }
        pipeline.next(); // warm-up: endpoint, tokenizer and planner are running before the window opens
        long start = System.nanoTime();
        long acceptedAtStart = accepted.get();
        long end = start + (long) (bench.seconds() * 1e9);
        while (System.nanoTime() < end) {
          for (java.util.concurrent.Future<Void> f : posting) {
            if (f.isDone()) {
              f.get(); // a client that failed fails the bench with its cause
            }
          }
          PackedBatch b = pipeline.next();
          packs++;
          packed += b.sampleKeys().length;
          tokens += b.sequenceLength();
        }
        seconds = (System.nanoTime() - start) / 1e9;
        long acceptedInWindow = accepted.get() - acceptedAtStart;
        stop.set(true);
        clients.shutdown();
        clients.awaitTermination(30, TimeUnit.SECONDS);
        List<Map<String, Object>> rows = new ArrayList<>();
        rows.add(row("http_accepted_samples_per_s", acceptedInWindow / seconds, "samples/s (fsynced, acknowledged)"));
        rows.add(row("http_packed_samples_per_s", packed / seconds, "samples/s"));
        rows.add(row("http_packed_tokens_per_s", tokens / seconds, "tokens/s"));
        rows.add(row("packs", packs, "packs"));
        rows.add(row("http_429_replies", refused.get(), "requests"));
        rows.add(row("clients", bench.clients(), "threads"));
        rows.add(row("lines_per_request", bench.linesPerRequest(), "lines"));
        return rows;
      }
    } finally {
      stop.set(true);
      clients.shutdownNow();
    }
  }

  /**
   * The Kafka half: one producer writes records to {@code topic} (created with 2 partitions when missing) while a
   * pipeline whose only group reads the topic packs them; rows {metric, value, unit}.
   */
  public static List<Map<String, Object>> runKafka(String bootstrap, String topic, DataConfig config,
      double windowSeconds) throws Exception {
    try (org.apache.kafka.clients.admin.Admin admin = org.apache.kafka.clients.admin.Admin.create(
        Map.of("bootstrap.servers", bootstrap))) {
      if (!admin.listTopics().names().get(30, TimeUnit.SECONDS).contains(topic)) {
        admin.createTopics(List.of(new org.apache.kafka.clients.admin.NewTopic(topic, 2, (short) 1))).all()
            .get(30, TimeUnit.SECONDS);
      }
    }
    java.util.Properties pp = new java.util.Properties();
    pp.put("bootstrap.servers", bootstrap);
    pp.put("acks", "all");
    pp.put("linger.ms", "5");
    AtomicLong produced = new AtomicLong();
    AtomicBoolean stop = new AtomicBoolean();
    ExecutorService producerThread = Executors.newSingleThreadExecutor();
    try (TextTokenizer tokenizer = TextTokenizer.tiny();
        org.apache.kafka.clients.producer.KafkaProducer<String, String> producer =
            new org.apache.kafka.clients.producer.KafkaProducer<>(pp,
                new org.apache.kafka.common.serialization.StringSerializer(),
                new org.apache.kafka.common.serialization.StringSerializer())) {
      SequencePlanner planner = new SequencePlanner(config, tokenizer.specialTokens(), tokenizer,
          ImageTransform.of(PipelineFactory.LMMS_VAE), ImageTransform.of(PipelineFactory.LMMS_VIT));
      KafkaSource source = new KafkaSource(new DatasetSource("kafka", Path.of(topic), null, ReadOptions.DEFAULTS),
          bootstrap, topic, "bakery-bench", Duration.ofSeconds(30));
      GroupSpec group = GroupSpec.live("kafka", 1, false, true, planner, new LiveSpec(() -> source, 1024));
      java.util.concurrent.Future<?> producing = producerThread.submit(() -> {
        for (long n = 0; !stop.get(); n++) {
          producer.send(new org.apache.kafka.clients.producer.ProducerRecord<>(topic, record(0, n, 0)),
              (m, e) -> {
                if (e == null) {
                  produced.incrementAndGet();
                }
              });
          if (n % 256 == 255) {
            producer.flush();
          }
        }
        producer.flush();
        return null;
      });
      try (DataPipeline pipeline = DataPipeline.builder().setGroups(List.of(group)).setConfig(config)
          .setTokens(tokenizer.specialTokens()).setRank(0, 1).build()) {
        pipeline.next();
        long start = System.nanoTime();
        long producedAtStart = produced.get();
        long end = start + (long) (windowSeconds * 1e9);
        long packs = 0;
        long packed = 0;
        long tokens = 0;
        while (System.nanoTime() < end) {
          if (producing.isDone()) {
            producing.get();
          }
          PackedBatch b = pipeline.next();
          packs++;
          packed += b.sampleKeys().length;
          tokens += b.sequenceLength();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        long producedInWindow = produced.get() - producedAtStart;
        stop.set(true);
        producing.get(30, TimeUnit.SECONDS);
        List<Map<String, Object>> rows = new ArrayList<>();
        rows.add(row("kafka_produced_samples_per_s", producedInWindow / seconds, "samples/s (acks=all)"));
        rows.add(row("kafka_packed_samples_per_s", packed / seconds, "samples/s"));
        rows.add(row("kafka_packed_tokens_per_s", tokens / seconds, "tokens/s"));
        rows.add(row("kafka_packs", packs, "packs"));
        return rows;
      }
    } finally {
      stop.set(true);
      producerThread.shutdownNow();
    }
  }

  private static String record(int client, long n, int i) {
    return "{\"messages\":[{\"role\":\"user\",\"content\":\"describe item " + client + "-" + n + "-" + i
        + "\"},{\"role\":\"assistant\",\"content\":\"item " + (n % 97)
        + " is a small red square next to a blue circle\"}]}";
  }

  private static int waitForPort(HttpIngest ingest) throws InterruptedException {
    for (int i = 0; i < 600; i++) {
      try {
        return ingest.port();
      } catch (NullPointerException e) {
        Thread.sleep(50); // the loader worker is still opening the source
      }
    }
    throw new IllegalStateException("ingest endpoint did not start in 30 s");
  }

  private static Void post(HttpClient http, int port, int client, int lines, AtomicBoolean stop, AtomicLong accepted,
      AtomicLong refused) throws IOException, InterruptedException {
    URI uri = URI.create("http://127.0.0.1:" + port + "/ingest");
    for (long n = 0; !stop.get(); n++) {
      StringBuilder body = new StringBuilder();
      for (int i = 0; i < lines; i++) {
        body.append(record(client, n, i)).append('\n');
      }
      HttpResponse<Void> r = http.send(HttpRequest.newBuilder(uri).POST(HttpRequest.BodyPublishers.ofString(
          body.toString())).build(), HttpResponse.BodyHandlers.discarding());
      if (r.statusCode() == 200) {
        accepted.addAndGet(lines);
      } else if (r.statusCode() == 429) {
        refused.incrementAndGet();
        Thread.sleep(2); // a bench client retries fast; real clients honour Retry-After
      } else {
        throw new IllegalStateException("ingest answered " + r.statusCode());
      }
    }
    return null;
  }

  private static Map<String, Object> row(String metric, double value, String unit) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("metric", metric);
    m.put("value", value);
    m.put("unit", unit);
    return m;
  }
}
