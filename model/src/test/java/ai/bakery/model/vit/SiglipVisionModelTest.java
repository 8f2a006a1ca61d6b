package ai.bakery.model.vit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.config.VitConfig;
import ai.bakery.model.nn.Init;
import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class SiglipVisionModelTest {
  // hidden 8, 2 heads, mlp 12, 2 layers, 3 patches per side at patch 2 -> patchDim 12.
  static final VitConfig TINY = new VitConfig(8, 12, 2, 2, 3, 6, 2, "gelu_pytorch_tanh", 1e-6, 0.0, false);

  @BeforeAll
  static void start() {
    Torch.init();
  }

  /** Random weights everywhere (norm gains too), so the plain-Java reference below checks every piece. */
  static void randomise(ParameterStore store, long seed) {
    Random r = new Random(seed);
    for (Parameter p : store.all().values()) {
      float[] v = new float[(int) p.value().size()];
      boolean gain = p.name().contains("norm") && p.name().endsWith("weight");
      for (int i = 0; i < v.length; i++) {
        v[i] = (float) ((gain ? 1 : 0) + 0.4 * r.nextGaussian());
      }
      p.copyFrom(store.manager().create(v, p.value().getShape()));
    }
  }

  @Test
  void namesFollowTheReference() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      new SiglipVisionModel(TINY, store, "vit_model");
      String b = "vit_model.vision_model.";
      for (String n : List.of("embeddings.patch_embedding.weight", "embeddings.patch_embedding.bias",
          "embeddings.position_embedding.weight", "encoder.layers.1.self_attn.q_proj.weight",
          "encoder.layers.0.self_attn.out_proj.bias", "encoder.layers.1.layer_norm1.weight",
          "encoder.layers.1.mlp.fc2.weight", "encoder.layers.0.layer_norm2.bias", "post_layernorm.weight")) {
        assertTrue(store.contains(b + n), n);
      }
      assertEquals(new Shape(8, 12), store.get(b + "embeddings.patch_embedding.weight").value().getShape());
      assertEquals(new Shape(9, 8), store.get(b + "embeddings.position_embedding.weight").value().getShape());
      assertEquals(3 + 2 * 16 + 2, store.all().size());
    }
  }

  @Test
  void matchesAPlainJavaReferenceOnTwoImages() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      SiglipVisionModel vit = new SiglipVisionModel(TINY, store, "vit_model");
      randomise(store, 7);
      int[] lens = {4, 2}; // a 2x2 image and a 1x2 image
      long[] pos = {0, 1, 3, 4, 0, 1};
      float[][] px = new float[6][12];
      Random r = new Random(3);
      for (float[] row : px) {
        for (int j = 0; j < row.length; j++) {
          row[j] = (float) r.nextGaussian();
        }
      }
      try (NDManager step = m.newSubManager()) {
        NDArray out = vit.forward(step.create(px), step.create(pos), lens);
        float[][] expect = new Reference(store).forward(px, pos, lens);
        float[] got = out.toFloatArray();
        for (int t = 0; t < 6; t++) {
          for (int d = 0; d < 8; d++) {
            assertEquals(expect[t][d], got[t * 8 + d], 2e-4, "token " + t + " dim " + d);
          }
        }
      }
    }
  }

  @Test
  void imagesDoNotSeeEachOther() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      SiglipVisionModel vit = new SiglipVisionModel(TINY, store, "vit_model", Init.seeded(1), Precision.FP32);
      try (NDManager step = m.newSubManager()) {
        NDArray px = step.randomNormal(new Shape(7, 12));
        NDArray pos = step.create(new long[] {0, 1, 2, 0, 1, 3, 4});
        int[] lens = {3, 4};
        NDArray a = vit.forward(px, pos, lens);
        NDArray changed = px.duplicate();
        changed.set(new ai.djl.ndarray.index.NDIndex("3:"), step.randomNormal(new Shape(4, 12)));
        NDArray b = vit.forward(changed, pos, lens);
        assertArrayEquals(a.get("0:3").toFloatArray(), b.get("0:3").toFloatArray());
        assertTrue(a.get("3:").sub(b.get("3:")).abs().max().getFloat() > 1e-3);
        // Same image alone gives the same features as inside the pack.
        NDArray alone = vit.forward(px.get("0:3"), pos.get("0:3"), new int[] {3});
        assertArrayEquals(a.get("0:3").toFloatArray(), alone.toFloatArray(), 1e-5f);
      }
    }
  }

  @Test
  void gradientsReachPatchEmbeddingAndRopeVariantRuns() {
    VitConfig rope = new VitConfig(8, 12, 1, 2, 3, 6, 2, "gelu_pytorch_tanh", 1e-6, 0.0, true);
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      SiglipVisionModel vit = new SiglipVisionModel(rope, store, "vit_model", Init.seeded(2), Precision.FP32);
      assertTrue(!store.contains("vit_model.vision_model.embeddings.position_embedding.weight"));
      try (NDManager step = m.newSubManager()) {
        NDArray px = step.randomNormal(new Shape(4, 12));
        NDArray pos = step.create(new long[] {0, 1, 3, 4});
        NDArray moved = step.create(new long[] {4, 5, 7, 8});
        try (GradientCollector gc = Torch.init().newGradientCollector()) {
          NDArray y = vit.forward(px, pos, new int[] {4});
          gc.backward(y.mul(y).sum());
        }
        NDArray g = store.get("vit_model.vision_model.embeddings.patch_embedding.weight").value().getGradient();
        assertTrue(g.abs().sum().getFloat() > 0);
        // RoPE attention depends on relative positions only: shifting the grid keeps features.
        NDArray a = vit.forward(px, pos, new int[] {4});
        NDArray b = vit.forward(px, moved, new int[] {4});
        assertArrayEquals(a.toFloatArray(), b.toFloatArray(), 1e-4f);
      }
    }
  }

  @Test
  void badPositionIdsAndLengthsAreNamed() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      SiglipVisionModel vit = new SiglipVisionModel(TINY, store, "vit_model");
      try (NDManager step = m.newSubManager()) {
        NDArray px = step.zeros(new Shape(2, 12));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> vit.forward(px, step.create(new long[] {0, 9}), new int[] {2}));
        assertTrue(e.getMessage().contains("position id 9"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
            () -> vit.forward(px, step.create(new long[] {0, 1}), new int[] {3}));
        assertTrue(e.getMessage().contains("seqlens"), e.getMessage());
      }
    }
  }

  /** The SigLIP forward written out with loops over floats. */
  static final class Reference {
    final ParameterStore s;
    final String b = "vit_model.vision_model.";

    Reference(ParameterStore s) {
      this.s = s;
    }

    float[] w(String n) {
      return s.get(b + n).value().toFloatArray();
    }

    float[][] linear(float[][] x, String n, int out) {
      float[] w = w(n + ".weight");
      float[] bias = w(n + ".bias");
      int in = x[0].length;
      float[][] y = new float[x.length][out];
      for (int t = 0; t < x.length; t++) {
        for (int o = 0; o < out; o++) {
          double acc = bias[o];
          for (int i = 0; i < in; i++) {
            acc += (double) x[t][i] * w[o * in + i];
          }
          y[t][o] = (float) acc;
        }
      }
      return y;
    }

    float[][] layerNorm(float[][] x, String n) {
      float[] g = w(n + ".weight");
      float[] bb = w(n + ".bias");
      float[][] y = new float[x.length][x[0].length];
      for (int t = 0; t < x.length; t++) {
        double mean = 0;
        for (float v : x[t]) {
          mean += v;
        }
        mean /= x[t].length;
        double var = 0;
        for (float v : x[t]) {
          var += (v - mean) * (v - mean);
        }
        var /= x[t].length;
        for (int d = 0; d < x[t].length; d++) {
          y[t][d] = (float) ((x[t][d] - mean) / Math.sqrt(var + 1e-6) * g[d] + bb[d]);
        }
      }
      return y;
    }

    float[][] forward(float[][] px, long[] pos, int[] lens) {
      float[][] x = linear(px, "embeddings.patch_embedding", 8);
      float[] table = w("embeddings.position_embedding.weight");
      for (int t = 0; t < x.length; t++) {
        for (int d = 0; d < 8; d++) {
          x[t][d] += table[(int) pos[t] * 8 + d];
        }
      }
      for (int l = 0; l < 2; l++) {
        String p = "encoder.layers." + l;
        float[][] h = layerNorm(x, p + ".layer_norm1");
        float[][] q = linear(h, p + ".self_attn.q_proj", 8);
        float[][] k = linear(h, p + ".self_attn.k_proj", 8);
        float[][] v = linear(h, p + ".self_attn.v_proj", 8);
        float[][] a = new float[x.length][8];
        int start = 0;
        for (int len : lens) {
          for (int head = 0; head < 2; head++) {
            for (int i = start; i < start + len; i++) {
              double[] sc = new double[len];
              double max = -1e30;
              for (int j = 0; j < len; j++) {
                double dot = 0;
                for (int d = 0; d < 4; d++) {
                  dot += q[i][head * 4 + d] * k[start + j][head * 4 + d];
                }
                sc[j] = dot / Math.sqrt(4);
                max = Math.max(max, sc[j]);
              }
              double sum = 0;
              for (int j = 0; j < len; j++) {
                sc[j] = Math.exp(sc[j] - max);
                sum += sc[j];
              }
              for (int d = 0; d < 4; d++) {
                double acc = 0;
                for (int j = 0; j < len; j++) {
                  acc += sc[j] / sum * v[start + j][head * 4 + d];
                }
                a[i][head * 4 + d] = (float) acc;
              }
            }
          }
          start += len;
        }
        float[][] o = linear(a, p + ".self_attn.out_proj", 8);
        for (int t = 0; t < x.length; t++) {
          for (int d = 0; d < 8; d++) {
            x[t][d] += o[t][d];
          }
        }
        float[][] f = linear(layerNorm(x, p + ".layer_norm2"), p + ".mlp.fc1", 12);
        for (float[] row : f) {
          for (int d = 0; d < row.length; d++) {
            double z = row[d];
            row[d] = (float) (0.5 * z * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (z + 0.044715 * z * z * z))));
          }
        }
        float[][] f2 = linear(f, p + ".mlp.fc2", 8);
        for (int t = 0; t < x.length; t++) {
          for (int d = 0; d < 8; d++) {
            x[t][d] += f2[t][d];
          }
        }
      }
      return layerNorm(x, "post_layernorm");
    }
  }
}
