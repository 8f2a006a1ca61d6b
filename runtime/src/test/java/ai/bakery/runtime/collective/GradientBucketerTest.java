package ai.bakery.runtime.collective;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class GradientBucketerTest {
  private static final Shape[] SHAPES = {new Shape(3, 5), new Shape(7), new Shape(2, 2, 2), new Shape(1001)};

  @BeforeAll
  static void loadTorch() {
    Torch.init();
  }

  /** Rank r's gradient k: small integers (and their averages over 2 or 3 ranks stay close to exact). */
  private static float[] gradValues(int rank, int k) {
    float[] v = new float[(int) SHAPES[k].size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = RingFixtures.value(rank, i * 5L + k);
    }
    return v;
  }

  private static float expectedAverage(int n, int k, int i) {
    float sum = 0;
    for (int r = 0; r < n; r++) {
      sum += RingFixtures.value(r, i * 5L + k);
    }
    return sum / n;
  }

  private static List<NDArray> grads(NDManager m, int rank) {
    List<NDArray> out = new ArrayList<>();
    for (int k = 0; k < SHAPES.length; k++) {
      out.add(m.create(gradValues(rank, k), SHAPES[k]));
    }
    return out;
  }

  @Test
  void smallBucketsAverageEveryGradientInPlace() throws Exception {
    RingFixtures.runRanks(3, c -> {
      try (NDManager m = NDManager.newBaseManager()) {
        List<NDArray> g = grads(m, c.rank());
        // 100 bytes: the 15- and 7-element grads share a bucket (88 bytes), the 8-element one starts the next,
        // the 1001-element one is larger than a bucket and goes alone.
        GradientBucketer bucketer = new GradientBucketer(c, new GradientBucketer.Config(100, null));
        assertEquals(List.of(List.of(0, 1), List.of(2), List.of(3)), bucketer.plan(g));
        assertEquals(3, bucketer.allReduce(g));
        for (int k = 0; k < SHAPES.length; k++) {
          assertEquals(SHAPES[k], g.get(k).getShape());
          float[] got = g.get(k).toFloatArray();
          for (int i = 0; i < got.length; i++) {
            assertEquals(expectedAverage(3, k, i), got[i], 0f, "grad " + k + " element " + i);
          }
        }
      }
    });
  }

  @Test
  void bf16WireRoundsOnceAndCastsBack() throws Exception {
    RingFixtures.runRanks(2, c -> {
      try (NDManager m = NDManager.newBaseManager()) {
        Random random = new Random(42);
        float[][] inputs = new float[2][4096];
        for (float[] row : inputs) {
          for (int i = 0; i < row.length; i++) {
            row[i] = (float) random.nextGaussian();
          }
        }
        NDArray grad = m.create(inputs[c.rank()], new Shape(64, 64));
        int buckets = new GradientBucketer(c, new GradientBucketer.Config(25L << 20, DType.BFLOAT16)).allReduce(List.of(grad));
        assertEquals(1, buckets);
        assertEquals(ai.djl.ndarray.types.DataType.FLOAT32, grad.getDataType());
        float[] got = grad.toFloatArray();
        double worst = 0;
        for (int i = 0; i < got.length; i++) {
          double want = (inputs[0][i] + inputs[1][i]) / 2.0;
          double scale = Math.abs(inputs[0][i]) + Math.abs(inputs[1][i]);
          worst = Math.max(worst, Math.abs(got[i] - want) / (scale + 1e-3));
        }
        // bf16 keeps 8 significant bits: casting in, one sum and one halving cost at most a few 2^-9.
        assertEquals(0, worst, 3 * Math.pow(2, -8), "worst relative error " + worst);
        // And it really travelled in bf16: exact fp32 averages are not reproduced.
        int exact = 0;
        for (int i = 0; i < got.length; i++) {
          exact += got[i] == (inputs[0][i] + inputs[1][i]) / 2f ? 1 : 0;
        }
        assertEquals(true, exact < got.length / 2, exact + " of " + got.length + " results are exact fp32 averages");
      }
    });
  }

  @Test
  void reduceScatterReturnsEachRanksShardOfTheFlatAverage() throws Exception {
    int n = 3;
    long total = 15 + 7 + 8 + 1001; // 1031 -> shards of 344, one padding element
    RingFixtures.runRanks(n, c -> {
      try (NDManager m = NDManager.newBaseManager()) {
        List<NDArray> g = grads(m, c.rank());
        // 120 bytes: 10 elements per rank and collective, so the shard arrives in 35 pieces.
        GradientBucketer.Shard shard = new GradientBucketer(c, new GradientBucketer.Config(120, null)).reduceScatter(g, m);
        assertEquals(344L * c.rank(), shard.offset());
        assertEquals(total, shard.totalNumel());
        assertEquals(344L * n, shard.paddedNumel());
        assertEquals(c.rank() == n - 1 ? 343 : 344, shard.realNumel());
        float[] flatAverage = new float[344 * n];
        int at = 0;
        for (int k = 0; k < SHAPES.length; k++) {
          for (int i = 0; i < SHAPES[k].size(); i++) {
            flatAverage[at++] = expectedAverage(n, k, i);
          }
        }
        float[] want = new float[344];
        System.arraycopy(flatAverage, (int) shard.offset(), want, 0, 344);
        assertArrayEquals(want, shard.values().toFloatArray());
        // The gradients themselves are left alone.
        assertArrayEquals(gradValues(c.rank(), 3), g.get(3).toFloatArray());
      }
    });
  }

  @Test
  void bucketsDoNotLeakNativeMemory() throws Exception {
    RingFixtures.runRanks(1, c -> {
      try (NDManager m = NDManager.newBaseManager()) {
        List<NDArray> g = List.of(m.ones(new Shape(512, 1024)), m.ones(new Shape(1024, 512)), m.ones(new Shape(300)));
        GradientBucketer bucketer = new GradientBucketer(c, new GradientBucketer.Config(1 << 20, DType.BFLOAT16));
        for (int i = 0; i < 5; i++) {
          bucketer.allReduce(g);
          bucketer.reduceScatter(g, m).values().close();
        }
        long before = rssKb();
        for (int i = 0; i < 40; i++) { // each round makes >= 2 MB of bf16 buckets: a leak would show 80 MB
          bucketer.allReduce(g);
          bucketer.reduceScatter(g, m).values().close();
        }
        long grownMb = (rssKb() - before) / 1024;
        assertEquals(true, grownMb < 40, "resident memory grew by " + grownMb + " MB over 40 rounds");
        assertEquals(1f, g.get(0).getFloat(7, 9));
      }
    });
  }

  private static long rssKb() throws java.io.IOException {
    for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    throw new IllegalStateException("no VmRSS in /proc/self/status");
  }

  @Test
  void rejectsIntegerGradientsAndBadConfig() throws Exception {
    assertThrows(IllegalArgumentException.class, () -> new GradientBucketer.Config(0, null));
    assertThrows(IllegalArgumentException.class, () -> new GradientBucketer.Config(10, DType.INT64));
    assertEquals(DType.BFLOAT16, GradientBucketer.Config.of(10, ai.bakery.model.tensor.ReduceDtype.BF16).reduceDtype());
    assertEquals(DType.FLOAT32, GradientBucketer.Config.of(10, ai.bakery.model.tensor.ReduceDtype.FP32).reduceDtype());
    RingFixtures.runRanks(1, c -> {
      try (NDManager m = NDManager.newBaseManager()) {
        NDArray ints = m.create(new int[] {1, 2, 3});
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> new GradientBucketer(c, GradientBucketer.Config.defaults()).allReduce(List.of(ints)));
        assertEquals(true, e.getMessage().contains("gradient 0"), e.getMessage());
      }
    });
  }
}
