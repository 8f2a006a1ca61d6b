package ai.bakery.model.attention;

import static ai.bakery.model.attention.AttnMode.CAUSAL;
import static ai.bakery.model.attention.AttnMode.FULL;
import static ai.bakery.model.attention.AttnMode.NOISE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.nn.Init;
import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class NsaAttentionTest {
  static final int HIDDEN = 32;
  static final int HQ = 4;
  static final int HKV = 2;
  static final int D = 8;
  /** Two samples: text, image (full), noised image, text; then text, text, noised image. */
  static final PackLayout MIXED = new PackLayout(new int[] {30, 20}, new int[] {6, 8, 6, 10, 12, 8},
      new AttnMode[] {CAUSAL, FULL, NOISE, CAUSAL, CAUSAL, NOISE});

  @BeforeAll
  static void start() {
    Torch.init();
  }

  static NsaConfig small(String compress, int topk, int window) {
    return new NsaConfig(List.of("nsa"), 8, compress, 4, 2, topk, 1, 1, window);
  }

  static NsaAttention nsa(ParameterStore store, String prefix, NsaConfig cfg) {
    return new NsaAttention(store, prefix, HIDDEN, HQ, HKV, D, cfg, Init.seeded(1), Precision.FP32);
  }

  @Test
  void bindsLmmsMonkeyPatchKwargsWithDefaults() throws Exception {
    ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
    NsaConfig c = yaml.readValue("patch_type: [nsa]\nblock_size: 32\ncompress_type: linear\n", NsaConfig.class);
    assertEquals(32, c.blockSize());
    assertEquals(NsaConfig.Compression.LINEAR, c.compression());
    assertEquals(16, c.topk());
    assertEquals(512, c.windowSize());
    assertEquals(NsaConfig.defaults(), yaml.readValue("{}", NsaConfig.class));
    for (String[] bad : new String[][] {{"compress_type: maxpool", "compress_type"},
        {"kernel_size: 24\nkernel_stride: 16", "kernel_size"}, {"topk: 2\ninit_blocks: 1\nlocal_blocks: 2", "topk"},
        {"window_size: 0", "window_size"}, {"patch_type: [liger]", "patch_type"}}) {
      Exception e = assertThrows(Exception.class, () -> yaml.readValue(bad[0], NsaConfig.class));
      assertTrue(String.valueOf(e.getMessage()).contains("monkey_patch_kwargs." + bad[1]), e.getMessage());
    }
  }

  @Test
  void registersLmmsEngineNamesShapesAndInitialValues() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      nsa(store, "a.self_attn", small("weightedpool", 4, 8));
      nsa(store, "b.self_attn", small("linear", 4, 8));
      nsa(store, "c.self_attn", small("avgpool", 4, 8));
      assertEquals(new Shape(HQ * 3, HIDDEN), store.get("a.self_attn.g_proj.weight").value().getShape());
      assertEquals(new Shape(HKV, 4), store.get("a.self_attn.compress_key").value().getShape());
      assertEquals(new Shape(HKV, 4 * D, D), store.get("b.self_attn.compress_value").value().getShape());
      assertEquals(new Shape(HKV, 4, D), store.get("c.self_attn.intra_block_pe").value().getShape());
      assertTrue(!store.contains("c.self_attn.compress_key"), "avgpool has no compression weights");
      // LMMS Engine: compression weights and intra-block PE start at zero, g_proj as torch's nn.Linear default.
      for (String name : new String[] {"a.self_attn.compress_key", "b.self_attn.compress_value",
          "a.self_attn.intra_block_pe"}) {
        assertEquals(0f, store.get(name).value().abs().max().getFloat(), name);
      }
      NDArray g = store.get("a.self_attn.g_proj.weight").value();
      float bound = (float) (1 / Math.sqrt(HIDDEN));
      assertTrue(g.abs().max().getFloat() <= bound && g.abs().max().getFloat() > bound / 2);
    }
  }

  @Test
  void planRunsEachRowAtItsEffectivePosition() {
    List<NsaAttention.Job> jobs = NsaAttention.plan(MIXED, 50);
    // Sample 1: noise split [14, 20) alone with the 14 tokens before it; text, image and text in one sequence.
    NsaAttention.Job noise = jobs.get(0);
    assertEquals(20, noise.keys().length);
    assertEquals(19, noise.pos()[0]);
    NsaAttention.Job main = jobs.get(1);
    assertEquals(24, main.keys().length); // 30 minus the 6 noise tokens
    assertEquals(20, main.keys()[14]); // after the image comes the text at 20: noise tokens left out
    assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 13, 13, 13, 13, 13, 13, 13, 13, 14},
        java.util.Arrays.copyOf(main.pos(), 15)); // text causal, the image's rows at its last token
    assertEquals(4, jobs.size()); // sample 2: its noise split and its text
  }

  @Test
  void fullCoverageMakesSelectedAndSlidingExactlyBagelAttention() {
    PackLayout causal = new PackLayout(new int[] {37}, new int[] {37}, new AttnMode[] {CAUSAL});
    for (PackLayout layout : new PackLayout[] {causal, MIXED}) {
      for (String compress : new String[] {"weightedpool", "linear", "avgpool"}) {
        try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m);
            PointerScope scope = new PointerScope()) {
          NsaAttention nsa = nsa(store, "l.self_attn", small(compress, 100, 1000));
          nsa.rowChunk = 5; // chunks cross splits and samples' rows
          int n = layout.totalLength();
          m.getEngine().setRandomSeed(2);
          NDArray q = m.randomNormal(new Shape(n, HQ, D));
          NDArray k = m.randomNormal(new Shape(n, HKV, D));
          NDArray v = m.randomNormal(new Shape(n, HKV, D));
          NsaAttention.Branches b = nsa.branches(Torch.view(q), Torch.view(k), Torch.view(v), Torch.view(k), layout);
          float[] expected = new EagerAttention().attend(q, k, v, layout).toFloatArray();
          String what = compress + " " + layout.modes().length + " splits";
          SdpaAttentionTest.assertClose(what + " selected", expected, floats(m, b.selected()), 1e-5f);
          SdpaAttentionTest.assertClose(what + " sliding", expected, floats(m, b.sliding()), 1e-5f);
        }
      }
    }
  }

  @Test
  void smallTopkAndWindowReallySparsifyAndChunkingChangesNothing() {
    int n = 300;
    PackLayout layout = new PackLayout(new int[] {n}, new int[] {40, 60, 200}, new AttnMode[] {CAUSAL, FULL, CAUSAL});
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m);
        PointerScope scope = new PointerScope()) {
      NsaAttention nsa = nsa(store, "l.self_attn", new NsaConfig(List.of("nsa"), 8, "weightedpool", 4, 2, 3, 1, 1, 5));
      randomise(m, store, "l.self_attn.compress_key", "l.self_attn.intra_block_pe");
      m.getEngine().setRandomSeed(3);
      NDArray q = m.randomNormal(new Shape(n, HQ, D));
      NDArray k = m.randomNormal(new Shape(n, HKV, D));
      NDArray v = m.randomNormal(new Shape(n, HKV, D));
      NsaAttention.Branches whole = nsa.branches(Torch.view(q), Torch.view(k), Torch.view(v), Torch.view(k), layout);
      nsa.rowChunk = 7;
      NsaAttention.Branches chunked = nsa.branches(Torch.view(q), Torch.view(k), Torch.view(v), Torch.view(k), layout);
      SdpaAttentionTest.assertClose("compressed", floats(m, whole.compressed()), floats(m, chunked.compressed()), 1e-6f);
      SdpaAttentionTest.assertClose("selected", floats(m, whole.selected()), floats(m, chunked.selected()), 1e-6f);
      SdpaAttentionTest.assertClose("sliding", floats(m, whole.sliding()), floats(m, chunked.sliding()), 1e-6f);

      // The sliding branch by hand: row t sees keys [p - 5, p], p = t for text, 99 for the image's rows.
      float[] win = floats(m, whole.sliding());
      float[] qa = q.toFloatArray();
      float[] ka = k.toFloatArray();
      float[] va = v.toFloatArray();
      for (int t : new int[] {0, 3, 39, 40, 70, 99, 100, 250, 299}) {
        int p = t >= 40 && t < 100 ? 99 : t;
        float[] ref = window(qa, ka, va, t, Math.max(0, p - 5), p);
        for (int i = 0; i < HQ * D; i++) {
          assertEquals(ref[i], win[t * HQ * D + i], 1e-5f, "sliding row " + t);
        }
      }
      // Late rows see 3 of 38 blocks and a 6-token window: far from dense attention.
      float[] exact = new EagerAttention().attend(q, k, v, layout).toFloatArray();
      float[] sel = floats(m, whole.selected());
      double dSel = 0;
      for (int i = 280 * HQ * D; i < n * HQ * D; i++) {
        dSel = Math.max(dSel, Math.abs(sel[i] - exact[i]));
      }
      assertTrue(dSel > 1e-3, "selected rows equal dense attention: " + dSel);
    }
  }

  @Test
  void gradientsReachGatesAndCompressionMatchingFiniteDifferences() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      String p = "model.layers.0.self_attn";
      NsaAttention nsa = nsa(store, p, small("weightedpool", 2, 6));
      randomise(m, store, p + ".compress_key", p + ".compress_value", p + ".intra_block_pe");
      m.getEngine().setRandomSeed(4);
      NDArray hidden = m.randomNormal(new Shape(50, HIDDEN));
      NDArray q = m.randomNormal(new Shape(50, HQ, D));
      NDArray k = m.randomNormal(new Shape(50, HKV, D));
      NDArray kRaw = m.randomNormal(new Shape(50, HKV, D));
      NDArray v = m.randomNormal(new Shape(50, HKV, D));
      NDArray w = m.randomNormal(new Shape(50, HQ, D));
      for (NDArray x : new NDArray[] {q, k, v, kRaw}) {
        x.setRequiresGradient(true);
      }
      try (GradientCollector gc = Torch.init().newGradientCollector()) {
        gc.backward(nsa.attend(q, k, v, kRaw, hidden, MIXED).mul(w).sum());
      }
      // As in LMMS Engine, compressed keys get no RoPE, so intra_block_pe only shifts every compressed key of a
      // head by one vector: each query's compressed scores move by a constant, which softmax ignores.
      float[] pe = store.get(p + ".intra_block_pe").value().getGradient().toFloatArray();
      assertTrue(Math.abs(pe[argMax(pe)]) < 1e-4, "intra_block_pe gradient " + pe[argMax(pe)]);
      for (String name : new String[] {".g_proj.weight", ".compress_key", ".compress_value"}) {
        Parameter param = store.get(p + name);
        float[] grad = param.value().getGradient().toFloatArray();
        float[] values = param.value().toFloatArray();
        int i = argMax(grad);
        double eps = 1e-2;
        double up = loss(m, nsa, param, values, i, (float) (values[i] + eps), q, k, v, kRaw, hidden, w);
        double down = loss(m, nsa, param, values, i, (float) (values[i] - eps), q, k, v, kRaw, hidden, w);
        double fd = (up - down) / (2 * eps);
        assertTrue(Math.abs(grad[i]) > 1e-4, name + " got no gradient");
        assertEquals(fd, grad[i], 0.02 * Math.abs(fd) + 1e-3, name + "[" + i + "] analytic vs finite difference");
        param.copyFrom(m.create(values, param.value().getShape()));
      }
      assertTrue(kRaw.getGradient().abs().sum().getFloat() > 0, "compression reads the pre-RoPE keys");
    }
  }

  static double loss(NDManager m, NsaAttention nsa, Parameter p, float[] values, int i, float value, NDArray q,
      NDArray k, NDArray v, NDArray kRaw, NDArray hidden, NDArray w) {
    float[] copy = values.clone();
    copy[i] = value;
    try (NDManager s = m.newSubManager()) {
      p.copyFrom(s.create(copy, p.value().getShape()));
      return nsa.attend(q, k, v, kRaw, hidden, MIXED).mul(w).sum().getFloat();
    }
  }

  @Test
  void rejectsMismatchedGateInput() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      NsaAttention nsa = nsa(store, "s", NsaConfig.defaults());
      NDArray q = m.zeros(new Shape(4, HQ, D));
      NDArray k = m.zeros(new Shape(4, HKV, D));
      PackLayout l = new PackLayout(new int[] {4}, new int[] {4}, new AttnMode[] {CAUSAL});
      assertThrows(IllegalArgumentException.class, () -> nsa.attend(q, k, k, k, m.zeros(new Shape(3, HIDDEN)), l));
    }
  }

  /** Plain softmax attention of row t over keys [lo, hi], each query head on kv head h / (HQ / HKV). */
  static float[] window(float[] q, float[] k, float[] v, int t, int lo, int hi) {
    float[] out = new float[HQ * D];
    for (int h = 0; h < HQ; h++) {
      int kvh = h / (HQ / HKV);
      double[] s = new double[hi - lo + 1];
      double max = Double.NEGATIVE_INFINITY;
      for (int j = lo; j <= hi; j++) {
        double dot = 0;
        for (int d = 0; d < D; d++) {
          dot += q[(t * HQ + h) * D + d] * k[(j * HKV + kvh) * D + d];
        }
        s[j - lo] = dot / Math.sqrt(D);
        max = Math.max(max, s[j - lo]);
      }
      double sum = 0;
      for (int j = 0; j < s.length; j++) {
        s[j] = Math.exp(s[j] - max);
        sum += s[j];
      }
      for (int j = lo; j <= hi; j++) {
        for (int d = 0; d < D; d++) {
          out[h * D + d] += (float) (s[j - lo] / sum * v[(j * HKV + kvh) * D + d]);
        }
      }
    }
    return out;
  }

  static void randomise(NDManager m, ParameterStore store, String... names) {
    m.getEngine().setRandomSeed(9);
    for (String name : names) {
      Parameter p = store.get(name);
      p.copyFrom(m.randomNormal(p.value().getShape()).mul(0.3));
    }
  }

  static float[] floats(NDManager m, org.bytedeco.pytorch.Tensor t) {
    return Torch.adopt(t.detach().contiguous().clone(), m).toFloatArray();
  }

  static int argMax(float[] a) {
    int best = 0;
    for (int i = 1; i < a.length; i++) {
      if (Math.abs(a[i]) > Math.abs(a[best])) {
        best = i;
      }
    }
    return best;
  }
}
