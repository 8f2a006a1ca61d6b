package ai.bakery.model.attention;

import static ai.bakery.model.attention.AttnMode.CAUSAL;
import static ai.bakery.model.attention.AttnMode.FULL;
import static ai.bakery.model.attention.AttnMode.NOISE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class EagerAttentionTest {
  @BeforeAll
  static void start() {
    Torch.init();
  }

  @Test
  void mixedSampleMaskMatchesHandWrittenMatrix() {
    // text(2) causal | vit(2) full | clean vae(2) full | text(1) causal | noised vae(2) noise | text(1) causal
    boolean[][] got = EagerAttention.sampleMask(
        new int[] {2, 2, 2, 1, 2, 1}, new AttnMode[] {CAUSAL, FULL, FULL, CAUSAL, NOISE, CAUSAL});
    int[][] want = {
        {1, 0, 0, 0, 0, 0, 0, 0, 0, 0},
        {1, 1, 0, 0, 0, 0, 0, 0, 0, 0},
        {1, 1, 1, 1, 0, 0, 0, 0, 0, 0},
        {1, 1, 1, 1, 0, 0, 0, 0, 0, 0},
        {1, 1, 1, 1, 1, 1, 0, 0, 0, 0},
        {1, 1, 1, 1, 1, 1, 0, 0, 0, 0},
        {1, 1, 1, 1, 1, 1, 1, 0, 0, 0},
        {1, 1, 1, 1, 1, 1, 1, 1, 1, 0},
        {1, 1, 1, 1, 1, 1, 1, 1, 1, 0},
        {1, 1, 1, 1, 1, 1, 1, 0, 0, 1}, // text after the noised image does not see it
    };
    assertMask(want, got);
  }

  @Test
  void noisedSplitsAreHiddenFromEachOther() {
    boolean[][] got = EagerAttention.sampleMask(new int[] {1, 2, 2}, new AttnMode[] {CAUSAL, NOISE, NOISE});
    int[][] want = {
        {1, 0, 0, 0, 0},
        {1, 1, 1, 0, 0},
        {1, 1, 1, 0, 0},
        {1, 0, 0, 1, 1},
        {1, 0, 0, 1, 1},
    };
    assertMask(want, got);
  }

  @Test
  void matchesNaiveAttentionPerSampleWithGqa() {
    int[] sampleLens = {5, 4};
    int[] splitLens = {2, 3, 1, 1, 2};
    AttnMode[] modes = {CAUSAL, NOISE, CAUSAL, FULL, CAUSAL};
    int t = 9;
    int hq = 4;
    int hkv = 2;
    int d = 3;
    Random r = new Random(3);
    float[] q = randn(r, t * hq * d);
    float[] k = randn(r, t * hkv * d);
    float[] v = randn(r, t * hkv * d);
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray out = new EagerAttention().attend(m.create(q, new Shape(t, hq, d)), m.create(k, new Shape(t, hkv, d)),
          m.create(v, new Shape(t, hkv, d)), new PackLayout(sampleLens, splitLens, modes));
      assertEquals(new Shape(t, hq, d), out.getShape());
      float[] want = naive(q, k, v, t, hq, hkv, d, new int[][] {{0, 5, 0, 2}, {5, 9, 2, 5}}, splitLens, modes);
      assertArrayEquals(want, out.toFloatArray(), 1e-5f);
    }
  }

  @Test
  void rejectsLayoutsThatDoNotCoverThePack() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray x = m.ones(new Shape(4, 1, 2));
      PackLayout short3 = new PackLayout(new int[] {3}, new int[] {3}, new AttnMode[] {CAUSAL});
      assertThrows(IllegalArgumentException.class, () -> new EagerAttention().attend(x, x, x, short3));
      // a trailing padding sample past the pack (the reference's flex padding) is skipped
      PackLayout padded = new PackLayout(new int[] {4, 4}, new int[] {4, 4}, new AttnMode[] {CAUSAL, CAUSAL});
      assertEquals(new Shape(4, 1, 2), new EagerAttention().attend(x, x, x, padded).getShape());
    }
  }

  /** Straight loops: per sample, per head h (kv head h / group), masked softmax. */
  static float[] naive(float[] q, float[] k, float[] v, int t, int hq, int hkv, int d, int[][] samples,
      int[] splitLens, AttnMode[] modes) {
    float[] out = new float[t * hq * d];
    int group = hq / hkv;
    for (int[] s : samples) {
      boolean[][] mask = EagerAttention.sampleMask(
          java.util.Arrays.copyOfRange(splitLens, s[2], s[3]), java.util.Arrays.copyOfRange(modes, s[2], s[3]));
      for (int h = 0; h < hq; h++) {
        int kh = h / group;
        for (int i = s[0]; i < s[1]; i++) {
          double[] w = new double[s[1] - s[0]];
          double max = Double.NEGATIVE_INFINITY;
          for (int j = s[0]; j < s[1]; j++) {
            if (!mask[i - s[0]][j - s[0]]) {
              w[j - s[0]] = Double.NEGATIVE_INFINITY;
              continue;
            }
            double dot = 0;
            for (int c = 0; c < d; c++) {
              dot += q[(i * hq + h) * d + c] * k[(j * hkv + kh) * d + c];
            }
            w[j - s[0]] = dot / Math.sqrt(d);
            max = Math.max(max, w[j - s[0]]);
          }
          double z = 0;
          for (int j = 0; j < w.length; j++) {
            w[j] = Math.exp(w[j] - max);
            z += w[j];
          }
          for (int c = 0; c < d; c++) {
            double acc = 0;
            for (int j = s[0]; j < s[1]; j++) {
              acc += w[j - s[0]] / z * v[(j * hkv + kh) * d + c];
            }
            out[(i * hq + h) * d + c] = (float) acc;
          }
        }
      }
    }
    return out;
  }

  static float[] randn(Random r, int n) {
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = (float) r.nextGaussian();
    }
    return x;
  }

  static void assertMask(int[][] want, boolean[][] got) {
    assertEquals(want.length, got.length);
    for (int i = 0; i < want.length; i++) {
      for (int j = 0; j < want.length; j++) {
        assertEquals(want[i][j] == 1, got[i][j], "mask[" + i + "][" + j + "]");
      }
    }
  }
}
