package ai.bakery.runtime.collective;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/** Inputs whose reductions are exact in fp32/bf16, and a way to run n ranks as threads. */
final class RingFixtures {
  private RingFixtures() {}

  interface RankBody {
    void run(Collective group) throws Exception;
  }

  /** Small integers: every sum over a few ranks is exact in fp32 and in bf16. */
  static float value(int rank, long i) {
    return (float) (Math.floorMod(i * 31 + rank * 7, 23) - 11);
  }

  static float[] floats(int rank, int count) {
    float[] out = new float[count];
    for (int i = 0; i < count; i++) {
      out[i] = value(rank, i);
    }
    return out;
  }

  static short[] bf16(int rank, int count) {
    short[] out = new short[count];
    for (int i = 0; i < count; i++) {
      out[i] = Bf16.fromFloat(value(rank, i));
    }
    return out;
  }

  /** Beyond 2^53, so a float path anywhere would lose the low bits. */
  static long longValue(int rank, long i) {
    return (1L << 60) / 8 * (rank + 1) + i * 1_000_003L - 5 * rank;
  }

  static float expected(ReduceOp op, int worldSize, long i) {
    float acc = value(0, i);
    for (int r = 1; r < worldSize; r++) {
      acc = op == ReduceOp.MAX ? Math.max(acc, value(r, i)) : acc + value(r, i);
    }
    return op == ReduceOp.AVG ? acc / worldSize : acc;
  }

  static String uniqueGroup(String prefix) {
    return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
  }

  static TcpRingCollective.Options fastOptions() {
    // Small chunks so even modest buffers are cut into many pipelined frames.
    return TcpRingCollective.Options.loopback()
        .withTimeout(java.time.Duration.ofSeconds(20))
        .withConnectTimeout(java.time.Duration.ofSeconds(20))
        .withChunkBytes(64 << 10);
  }

  /** Runs {@code body} on {@code n} ranks (threads) of a fresh loopback group; rethrows the first failure. */
  static void runRanks(int n, RankBody body) throws Exception {
    runRanks(n, fastOptions(), body);
  }

  static void runRanks(int n, TcpRingCollective.Options options, RankBody body) throws Exception {
    Rendezvous rendezvous = new InMemoryRendezvous();
    String group = uniqueGroup("test");
    ExecutorService pool = Executors.newFixedThreadPool(n);
    try {
      List<Future<?>> ranks = new ArrayList<>();
      for (int r = 0; r < n; r++) {
        int rank = r;
        ranks.add(pool.submit(() -> {
          try (Collective c = TcpRingCollective.create(group, 7, rank, n, rendezvous, options)) {
            body.run(c);
          }
          return null;
        }));
      }
      for (Future<?> f : ranks) {
        try {
          f.get(60, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
          if (e.getCause() instanceof Exception ex) {
            throw ex;
          }
          throw e;
        }
      }
    } finally {
      pool.shutdownNow();
    }
  }
}
