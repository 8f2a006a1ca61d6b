package ai.bakery.model.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class NnTest {
  @BeforeAll
  static void start() {
    Torch.init();
  }

  @Test
  void rmsNormMatchesHandComputedValues() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      RmsNorm norm = new RmsNorm(store, "n", 4, 1e-6);
      norm.weight().copyFrom(m.create(new float[] {1, 2, 0.5f, -1}));
      NDArray y = norm.forward(m.create(new float[] {1, 2, 3, 4}, new Shape(1, 4)));
      // mean(x^2) = 7.5; y = w * x / sqrt(7.5 + 1e-6)
      assertArrayEquals(new float[] {0.36514835f, 1.4605934f, 0.5477225f, -1.4605934f}, y.toFloatArray(), 1e-6f);
    }
  }

  @Test
  void ropeRotatesHalvesByPositionTimesFrequency() {
    try (NDManager m = NDManager.newBaseManager()) {
      Rope rope = new Rope(4, 100.0);
      assertArrayEquals(new float[] {1f, 0.1f}, rope.invFreq(), 1e-7f);
      NDArray pos = m.create(new long[] {0, 3});
      Rope.Table table = rope.table(pos);
      NDArray x = m.create(new float[] {1, 2, 3, 4, 1, 2, 3, 4}, new Shape(2, 1, 4));
      float[] y = rope.apply(x, table).toFloatArray();
      // position 0 is the identity
      assertArrayEquals(new float[] {1, 2, 3, 4}, java.util.Arrays.copyOfRange(y, 0, 4), 1e-6f);
      // position 3: angles (3, 0.3) on pairs (x0, x2) and (x1, x3)
      assertArrayEquals(new float[] {-1.4133525f, 0.72859216f, -2.8288575f, 4.4123864f},
          java.util.Arrays.copyOfRange(y, 4, 8), 1e-5f);
    }
  }

  @Test
  void ropeKeepsDotProductsRelative() {
    // q.k after rotation depends only on the position difference.
    try (NDManager m = NDManager.newBaseManager()) {
      Rope rope = new Rope(8, 10000.0);
      NDArray q = m.randomNormal(new Shape(1, 1, 8)).repeat(0, 4);
      NDArray k = m.randomNormal(new Shape(1, 1, 8)).repeat(0, 4);
      Rope.Table t = rope.table(m.create(new long[] {2, 7, 12, 17}));
      NDArray qr = rope.apply(q, t);
      NDArray kr = rope.apply(k, t);
      float a = qr.get(1).mul(kr.get(0)).sum().getFloat();
      float b = qr.get(3).mul(kr.get(2)).sum().getFloat();
      assertEquals(a, b, 1e-4f);
    }
  }

  @Test
  void activationsMatchTheirDefinitions() {
    try (NDManager m = NDManager.newBaseManager()) {
      float[] xs = {-2f, -0.5f, 0f, 1f, 3f};
      NDArray x = m.create(xs);
      float[] silu = Activations.silu(x).toFloatArray();
      float[] tanh = Activations.named("gelu_pytorch_tanh").apply(x).toFloatArray();
      float[] gelu = Activations.gelu(x).toFloatArray();
      for (int i = 0; i < xs.length; i++) {
        double v = xs[i];
        assertEquals(v / (1 + Math.exp(-v)), silu[i], 1e-6);
        assertEquals(0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v))), tanh[i], 1e-6);
        assertEquals(0.5 * v * (1 + erf(v / Math.sqrt(2))), gelu[i], 1e-6);
      }
      assertThrows(IllegalArgumentException.class, () -> Activations.named("relu6"));
    }
  }

  @Test
  void linearComputesAffineMapAndInitialisesLikeTorch() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      Linear lin = new Linear(store, "fc", 64, 3, true, Init.seeded(7));
      float[] w = lin.weight().value().toFloatArray();
      float bound = (float) (1 / Math.sqrt(64));
      float max = 0;
      for (float v : w) {
        max = Math.max(max, Math.abs(v));
      }
      assertTrue(max <= bound && max > 0.8f * bound, "weights within U(-1/sqrt(in), 1/sqrt(in)), max " + max);
      assertTrue(store.contains("fc.weight") && store.contains("fc.bias"));
      assertEquals(new Shape(3, 64), lin.weight().value().getShape());

      NDArray x = m.randomNormal(new Shape(2, 5, 64));
      NDArray y = lin.forward(x);
      assertEquals(new Shape(2, 5, 3), y.getShape());
      NDArray expected = x.matMul(lin.weight().value().transpose()).add(lin.bias().value());
      assertArrayEquals(expected.toFloatArray(), y.toFloatArray(), 1e-5f);

      // Same seed, same values.
      try (ParameterStore other = new ParameterStore(m)) {
        Linear again = new Linear(other, "fc", 64, 3, true, Init.seeded(7));
        assertArrayEquals(w, again.weight().value().toFloatArray());
      }
    }
  }

  @Test
  void linearAndEmbeddingPassGradientsToMasterWeights() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      Embedding emb = new Embedding(store, "emb", 10, 4, Init.seeded(1), 0.02, ai.bakery.model.tensor.Precision.FP32);
      Linear lin = new Linear(store, "fc", 4, 2, false, Init.seeded(2));
      try (NDManager step = m.newSubManager(); GradientCollector gc = Torch.init().newGradientCollector()) {
        NDArray ids = step.create(new long[] {3, 3, 7});
        gc.backward(lin.forward(emb.forward(ids)).sum());
      }
      float[] g = emb.weight().value().getGradient().toFloatArray();
      float[] wSum = lin.weight().value().sum(new int[] {0}).toFloatArray();
      for (int d = 0; d < 4; d++) {
        assertEquals(2 * wSum[d], g[3 * 4 + d], 1e-6f); // row 3 used twice
        assertEquals(wSum[d], g[7 * 4 + d], 1e-6f);
        assertEquals(0f, g[0 * 4 + d]);
      }
    }
  }

  static double erf(double x) {
    // Abramowitz-Stegun 7.1.26 is too coarse for 1e-6; integrate exp(-t^2) by Simpson instead.
    int n = 2000;
    double h = x / n;
    double s = 1 + Math.exp(-x * x);
    for (int i = 1; i < n; i++) {
      double t = i * h;
      s += (i % 2 == 0 ? 2 : 4) * Math.exp(-t * t);
    }
    return 2 / Math.sqrt(Math.PI) * s * h / 3;
  }
}
