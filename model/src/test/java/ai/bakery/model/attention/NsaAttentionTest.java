package ai.bakery.model.attention;

import static ai.bakery.model.attention.AttnMode.CAUSAL;
import static ai.bakery.model.attention.AttnMode.FULL;
import static ai.bakery.model.attention.AttnMode.NOISE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.nn.Init;
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
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class NsaAttentionTest {
  static final int HIDDEN = 32;

  @BeforeAll
  static void start() {
    Torch.init();
  }

  static NsaConfig small(String compress, int topk, int window) {
    return new NsaConfig(List.of("nsa"), 8, compress, 4, 2, topk, 1, 1, window);
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
    Exception e = assertThrows(Exception.class,
        () -> yaml.readValue("patch_type: [nsa]\ncompress_type: maxpool\n", NsaConfig.class));
    assertTrue(String.valueOf(e.getMessage()).contains("compress_type"), e.getMessage());
    e = assertThrows(Exception.class, () -> yaml.readValue("kernel_size: 24\nkernel_stride: 16\n", NsaConfig.class));
    assertTrue(String.valueOf(e.getMessage()).contains("kernel_size"), e.getMessage());
  }

  @Test
  void fullCoverageMakesSelectedAndSlidingBranchesExactCausal() {
    for (String compress : new String[] {"weightedpool", "linear", "avgpool"}) {
      try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m);
          PointerScope scope = new PointerScope()) {
        NsaAttention nsa = new NsaAttention(store, "l.self_attn", HIDDEN, 4, 2, 8, small(compress, 100, 1000),
            Init.seeded(1), Precision.FP32);
        m.getEngine().setRandomSeed(2);
        int n = 37;
        NDArray q = m.randomNormal(new Shape(n, 4, 8));
        NDArray k = m.randomNormal(new Shape(n, 2, 8));
        NDArray v = m.randomNormal(new Shape(n, 2, 8));
        NsaAttention.Branches b = nsa.branches(Torch.view(q), Torch.view(k), Torch.view(v));
        PackLayout causal = new PackLayout(new int[] {n}, new int[] {n}, new AttnMode[] {CAUSAL});
        float[] expected = new SdpaAttention().attend(q, k, v, causal).toFloatArray();
        SdpaAttentionTest.assertClose(compress + " selected", expected, Torch.adopt(b.selected().contiguous(), m).toFloatArray(), 1e-5f);
        SdpaAttentionTest.assertClose(compress + " sliding", expected, Torch.adopt(b.sliding().contiguous(), m).toFloatArray(), 1e-5f);
      }
    }
  }

  @Test
  void smallTopkAndWindowReallySparsify() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m);
        PointerScope scope = new PointerScope()) {
      NsaAttention nsa = new NsaAttention(store, "l.self_attn", HIDDEN, 4, 2, 8,
          new NsaConfig(List.of("nsa"), 8, "weightedpool", 4, 2, 2, 0, 1, 5), Init.seeded(1), Precision.FP32);
      m.getEngine().setRandomSeed(3);
      int n = 48;
      NDArray q = m.randomNormal(new Shape(n, 4, 8));
      NDArray k = m.randomNormal(new Shape(n, 2, 8));
      NDArray v = m.randomNormal(new Shape(n, 2, 8));
      NsaAttention.Branches b = nsa.branches(Torch.view(q), Torch.view(k), Torch.view(v));
      float[] exact = new SdpaAttention().attend(q, k, v,
          new PackLayout(new int[] {n}, new int[] {n}, new AttnMode[] {CAUSAL})).toFloatArray();
      float[] sel = Torch.adopt(b.selected().contiguous(), m).toFloatArray();
      float[] win = Torch.adopt(b.sliding().contiguous(), m).toFloatArray();
      int rowLen = 4 * 8;
      // Rows in the first two blocks see everything either way; the last rows must differ from dense attention.
      double dSel = 0;
      double dWin = 0;
      for (int i = (n - 1) * rowLen; i < n * rowLen; i++) {
        dSel = Math.max(dSel, Math.abs(sel[i] - exact[i]));
        dWin = Math.max(dWin, Math.abs(win[i] - exact[i]));
      }
      assertTrue(dSel > 1e-3 && dWin > 1e-3, "selected " + dSel + ", sliding " + dWin);
      for (int i = 0; i < 6 * rowLen; i++) { // rows 0..5 have at most 6 keys: window 5 covers them all
        assertEquals(exact[i], win[i], 1e-5f);
      }
    }
  }

  @Test
  void splitsKeepBagelSemanticsAndGradientsReachGatesAndCompression() {
    PackLayout layout = new PackLayout(new int[] {30, 20}, new int[] {6, 8, 6, 10, 12, 8},
        new AttnMode[] {CAUSAL, FULL, NOISE, CAUSAL, CAUSAL, NOISE});
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      NsaAttention nsa = new NsaAttention(store, "model.layers.0.self_attn", HIDDEN, 4, 2, 8,
          small("weightedpool", 2, 6), Init.seeded(1), Precision.FP32);
      m.getEngine().setRandomSeed(4);
      NDArray hidden = m.randomNormal(new Shape(50, HIDDEN));
      NDArray q = m.randomNormal(new Shape(50, 4, 8));
      NDArray k = m.randomNormal(new Shape(50, 2, 8));
      NDArray v = m.randomNormal(new Shape(50, 2, 8));
      NDArray w = m.randomNormal(new Shape(50, 4, 8));
      for (NDArray x : new NDArray[] {q, k, v}) {
        x.setRequiresGradient(true);
      }
      NDArray out;
      try (GradientCollector gc = Torch.init().newGradientCollector()) {
        nsa.setGateInput(hidden);
        out = nsa.attend(q, k, v, layout);
        gc.backward(out.mul(w).sum());
      }
      // ViT and VAE rows (6..19 of sample 1, rows 42..49 of sample 2) are exact attention over their visible set.
      float[] dense = new SdpaAttention().attend(q, k, v, layout).toFloatArray();
      float[] got = out.toFloatArray();
      for (int row : new int[] {6, 13, 14, 19, 42, 49}) {
        for (int i = row * 32; i < row * 32 + 32; i++) {
          assertEquals(dense[i], got[i], 1e-5f, "row " + row);
        }
      }
      // Late text rows of sample 1 go through the sparse branches and differ from dense attention.
      double d = 0;
      for (int i = 29 * 32; i < 30 * 32; i++) {
        d = Math.max(d, Math.abs(dense[i] - got[i]));
      }
      assertTrue(d > 1e-4, "text row 29 should be sparse-gated, max diff " + d);
      for (String name : new String[] {"model.layers.0.self_attn.g_proj.weight",
          "model.layers.0.self_attn.compress_key.weight", "model.layers.0.self_attn.compress_value.weight"}) {
        NDArray g = store.get(name).value().getGradient();
        assertTrue(g.abs().sum().getFloat() > 0, name + " got no gradient");
      }
      assertTrue(q.getGradient().abs().sum().getFloat() > 0);
    }
  }

  @Test
  void requiresGateInput() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      NsaAttention nsa = new NsaAttention(store, "s", HIDDEN, 4, 2, 8, NsaConfig.defaults(), Init.seeded(1),
          Precision.FP32);
      NDArray q = m.zeros(new Shape(4, 4, 8));
      NDArray k = m.zeros(new Shape(4, 2, 8));
      PackLayout l = new PackLayout(new int[] {4}, new int[] {4}, new AttnMode[] {CAUSAL});
      assertThrows(IllegalStateException.class, () -> nsa.attend(q, k, k, l));
      assertEquals(ScalarType.Float, ai.bakery.model.tensor.ScalarTypes.of(Torch.view(q)));
    }
  }
}
