package ai.bakery.actors.bench;

import ai.bakery.actors.flight.BatchFlightClient;
import ai.bakery.actors.flight.BatchFlightServer;
import ai.bakery.actors.flight.BatchStore;
import ai.bakery.actors.job.BatchId;
import ai.bakery.data.pack.PackedBatch;
import ai.bakery.data.pack.PackedBatchArrow;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.arrow.flight.Location;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/**
 * {@code bakery bench flight}: packed batches from a data shard's Flight server to a worker over loopback,
 * decoded back to {@link PackedBatch}, next to the same encode/decode done in process (the floor any
 * transport pays). Batches are synthetic but shaped like BAGEL packs: one 256x256 VAE image and a ViT image
 * of 324 patches per 1024 tokens.
 */
public final class FlightBench {
  public record Config(List<Integer> tokens, int batches) {
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
        // In process: encode + decode, the work the network path also does.
        long t0 = System.nanoTime();
        for (int i = 0; i < config.batches(); i++) {
          PackedBatchArrow.fromIpcBytes(PackedBatchArrow.toIpcBytes(batch, alloc), alloc);
        }
        double local = (System.nanoTime() - t0) / 1e9;
        BatchStore store = new BatchStore(config.batches());
        for (int i = 0; i < config.batches(); i++) {
          store.put(new BatchId("bench", i), ipc);
        }
        double flight;
        try (BatchFlightServer server = new BatchFlightServer(alloc, Location.forGrpcInsecure("127.0.0.1", 0), store,
            "bench-token");
            BatchFlightClient client = new BatchFlightClient(alloc,
                Location.forGrpcInsecure("127.0.0.1", server.port()), "bench-token")) {
          client.fetch(new BatchId("bench", 0)); // warm the channel
          long t1 = System.nanoTime();
          for (int i = 0; i < config.batches(); i++) {
            PackedBatchArrow.fromIpcBytes(client.fetch(new BatchId("bench", i)), alloc);
          }
          flight = (System.nanoTime() - t1) / 1e9;
        }
        double mb = ipc.length / 1e6;
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("tokens_per_batch", tokens);
        row.put("batch_mb", round(mb));
        row.put("flight_batches_per_s", round(config.batches() / flight));
        row.put("flight_mb_per_s", round(mb * config.batches() / flight));
        row.put("in_process_batches_per_s", round(config.batches() / local));
        row.put("flight_vs_in_process", round(local / flight));
        rows.add(row);
      }
    }
    return rows;
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
