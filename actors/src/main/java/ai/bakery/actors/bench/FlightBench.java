package ai.bakery.actors.bench;

import ai.bakery.actors.flight.BatchFlightClient;
import ai.bakery.actors.flight.BatchFlightServer;
import ai.bakery.actors.flight.BatchStore;
import ai.bakery.actors.job.BatchId;
import ai.bakery.data.pack.PackedBatch;
import ai.bakery.data.pack.PackedBatchArrow;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.flight.Location;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/**
 * {@code bakery bench flight}: packed batches from a data shard's Flight server (this JVM) to a worker in its own
 * JVM over loopback, each fetched and decoded back to a {@link PackedBatch} as a cluster worker does, next to an
 * in-process copy of the same batches (the stored Arrow IPC bytes decoded in this JVM: the same work without the
 * transport). Batches are synthetic but shaped like BAGEL packs: one 256x256 VAE image and a ViT image of 324
 * patches per 1024 tokens. Throughput counts the IPC bytes of a batch.
 */
public final class FlightBench {
  private static final String ROW = "FLIGHT-ROW";
  private static final String TOKEN = "bench-token";

  public record Config(List<Integer> tokens, int batches) {
    public Config {
      if (tokens == null || tokens.isEmpty() || batches < 1) {
        throw new IllegalArgumentException("need pack sizes and at least one batch, got " + tokens + " x " + batches);
      }
      tokens = List.copyOf(tokens);
    }

    public static Config defaults() {
      return new Config(List.of(4096, 10240, 32768), 12);
    }
  }

  private FlightBench() {}

  public static List<Map<String, Object>> run(Config config) throws Exception {
    List<Map<String, Object>> rows = new ArrayList<>();
    try (BufferAllocator alloc = new RootAllocator()) {
      for (int tokens : config.tokens()) {
        PackedBatch batch = synthetic(tokens, new Random(tokens));
        byte[] ipc = PackedBatchArrow.toIpcBytes(batch, alloc);
        // the data shard packs ahead: its store holds the encoded batches before any worker asks
        BatchStore store = new BatchStore(config.batches());
        for (int i = 0; i < config.batches(); i++) {
          store.put(new BatchId("bench", i), ipc);
        }
        // in process: the stored bytes decoded into a worker's PackedBatch, twice (the first warms up)
        double local = Double.MAX_VALUE;
        for (int round = 0; round < 2; round++) {
          long t0 = System.nanoTime();
          for (int i = 0; i < config.batches(); i++) {
            PackedBatch copy = PackedBatchArrow.fromIpcBytes(store.get(new BatchId("bench", i)).orElseThrow(), alloc);
            if (copy.tokens() != tokens) {
              throw new IllegalStateException("in-process copy has " + copy.tokens() + " tokens, want " + tokens);
            }
          }
          local = Math.min(local, (System.nanoTime() - t0) / 1e9);
        }
        double flight;
        try (BatchFlightServer server = new BatchFlightServer(alloc, Location.forGrpcInsecure("127.0.0.1", 0), store,
            TOKEN)) {
          flight = worker(server.port(), config.batches(), tokens);
        }
        double mb = ipc.length / 1e6;
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("tokens_per_batch", tokens);
        row.put("batch_mb", round(mb));
        row.put("flight_batches_per_s", round(config.batches() / flight));
        row.put("flight_mb_per_s", round(mb * config.batches() / flight));
        row.put("in_process_batches_per_s", round(config.batches() / local));
        row.put("in_process_mb_per_s", round(mb * config.batches() / local));
        row.put("flight_vs_in_process", round(local / flight));
        rows.add(row);
      }
    }
    return rows;
  }

  /** Runs a worker JVM that fetches and decodes {@code batches} batches; returns its seconds for them. */
  private static double worker(int port, int batches, int tokens) throws Exception {
    // Arrow reaches into java.nio for its buffers, as every Bakery JVM allows it to
    List<String> command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx1g",
        "-XX:+UseSerialGC", "--add-opens=java.base/java.nio=ALL-UNNAMED", "-Dio.netty.tryReflectionSetAccessible=true",
        "-cp", System.getProperty("java.class.path"), FlightBench.class.getName(), "worker", Integer.toString(port),
        Integer.toString(batches), Integer.toString(tokens));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    try {
      String out;
      try (InputStream in = p.getInputStream()) {
        out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      }
      if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0) {
        throw new IllegalStateException("the bench worker JVM failed:\n" + out);
      }
      for (String line : out.split("\n")) {
        if (line.startsWith(ROW)) {
          return Double.parseDouble(line.substring(ROW.length()).trim());
        }
      }
      throw new IllegalStateException("the bench worker JVM printed no timing:\n" + out);
    } finally {
      p.destroyForcibly();
    }
  }

  /** The worker JVM: one warm-up fetch, then every batch fetched and decoded; prints the seconds taken. */
  private static void fetchAll(int port, int batches, int tokens) throws Exception {
    try (BufferAllocator alloc = new RootAllocator();
        BatchFlightClient client = new BatchFlightClient(alloc, Location.forGrpcInsecure("127.0.0.1", port), TOKEN)) {
      PackedBatchArrow.fromIpcBytes(client.fetch(new BatchId("bench", 0)), alloc);
      long t0 = System.nanoTime();
      for (int i = 0; i < batches; i++) {
        PackedBatch b = PackedBatchArrow.fromIpcBytes(client.fetch(new BatchId("bench", i)), alloc);
        if (b.tokens() != tokens) {
          throw new IllegalStateException("batch " + i + " arrived with " + b.tokens() + " tokens, want " + tokens);
        }
      }
      System.out.println(ROW + " " + (System.nanoTime() - t0) / 1e9);
    }
  }

  /** The worker JVM's entry ({@code worker <port> <batches> <tokens>}); the CLI calls {@link #run}. */
  public static void main(String[] args) throws Exception {
    if (args.length == 4 && args[0].equals("worker")) {
      fetchAll(Integer.parseInt(args[1]), Integer.parseInt(args[2]), Integer.parseInt(args[3]));
      System.exit(0);
    }
    System.err.println("usage: FlightBench worker <port> <batches> <tokens> (bakery bench flight runs the bench)");
    System.exit(2);
  }

  static PackedBatch synthetic(int tokens, Random r) {
    int images = Math.max(1, tokens / 1024);
    int side = 256;
    int latentSide = side / 16;
    int vitPatches = 324;
    int vaeTokens = images * latentSide * latentSide;
    int vitTokens = images * vitPatches;
    int textTokens = tokens - vaeTokens - vitTokens;
    if (textTokens < 1) {
      throw new IllegalArgumentException(tokens + " tokens are too few for the synthetic layout");
    }
    float[] pixels = new float[images * 3 * side * side];
    for (int i = 0; i < pixels.length; i++) {
      pixels[i] = r.nextFloat() * 2 - 1;
    }
    float[] vit = new float[vitTokens * 588];
    for (int i = 0; i < vit.length; i++) {
      vit[i] = r.nextFloat() * 2 - 1;
    }
    int[] text = r.ints(textTokens, 0, 150000).toArray();
    int[] seq = java.util.stream.IntStream.range(0, tokens).toArray();
    int[] shapes = new int[images * 2];
    java.util.Arrays.fill(shapes, latentSide);
    float[] timesteps = new float[vaeTokens];
    for (int i = 0; i < timesteps.length; i++) {
      timesteps[i] = (float) r.nextGaussian();
    }
    return new PackedBatch(tokens, new int[] {tokens}, new int[] {textTokens, vitTokens, vaeTokens},
        new String[] {"causal", "full", "noise"}, text, java.util.Arrays.copyOfRange(seq, 0, textTokens),
        seq, pixels, new int[] {images, 3, side, side}, shapes,
        java.util.Arrays.copyOfRange(seq, 0, vaeTokens),
        java.util.Arrays.copyOfRange(seq, textTokens + vitTokens, tokens), timesteps,
        java.util.Arrays.copyOfRange(seq, textTokens + vitTokens, tokens), vit, 588,
        java.util.Arrays.copyOfRange(seq, 0, vitTokens), java.util.Arrays.copyOfRange(seq, textTokens, textTokens + vitTokens),
        new int[] {vitTokens}, java.util.Arrays.copyOfRange(text, 0, textTokens - 1),
        java.util.Arrays.copyOfRange(seq, 0, textTokens - 1), new float[0], new String[] {"synthetic"});
  }

  private static double round(double v) {
    return Math.round(v * 100) / 100.0;
  }
}
