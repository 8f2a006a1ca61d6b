package ai.bakery.model.attention;

import static ai.bakery.model.attention.AttnMode.CAUSAL;
import static ai.bakery.model.attention.AttnMode.FULL;
import static ai.bakery.model.attention.AttnMode.NOISE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class SdpaAttentionTest {
  /** Three samples mixing text, ViT, clean-VAE and noised-VAE splits, including a noise split first. */
  static final PackLayout MIXED = new PackLayout(
      new int[] {38, 15, 12},
      new int[] {5, 7, 4, 6, 8, 3, 5, 6, 9, 4, 3, 5},
      new AttnMode[] {CAUSAL, FULL, CAUSAL, FULL, NOISE, CAUSAL, FULL, CAUSAL, NOISE, NOISE, FULL, CAUSAL});

  @BeforeAll
  static void start() {
    Torch.init();
  }

  @Test
  void planUsesMasksOnlyWherePrefixOrHiddenNoiseNeedsThem() {
    List<AttentionBlock> blocks = AttentionBlock.plan(MIXED);
    assertEquals(12, blocks.size());
    assertTrue(blocks.get(0).isSelfCausal()); // text at sample start
    assertTrue(blocks.get(1).isDense()); // ViT over its prefix
    assertEquals(12, blocks.get(2).causalOffset()); // text after text + ViT: masked
    assertTrue(blocks.get(4).isDense()); // noise sees its prefix, nothing hidden yet
    assertEquals(List.of(22, 30), List.of(blocks.get(5).hidden().get(0)[0], blocks.get(5).hidden().get(0)[1]));
    // Sample 3 starts with a noise split: later splits skip its keys instead of masking them.
    AttentionBlock full = blocks.get(10);
    assertEquals(57, full.kStart());
    assertTrue(full.isDense());
    AttentionBlock text = blocks.get(11);
    assertEquals(57, text.kStart());
    assertEquals(3, text.causalOffset());
  }

  @Test
  void adjacentCausalSplitsAreOneCausalCall() {
    PackLayout text = new PackLayout(new int[] {9, 4}, new int[] {3, 6, 4}, new AttnMode[] {CAUSAL, CAUSAL, CAUSAL});
    List<AttentionBlock> blocks = AttentionBlock.plan(text);
    assertEquals(2, blocks.size());
    assertTrue(blocks.get(0).isSelfCausal() && blocks.get(0).rows() == 9);
    assertTrue(blocks.get(1).isSelfCausal() && blocks.get(1).qStart() == 9);
  }

  @Test
  void blockMaskMatchesReferenceVisibility() {
    boolean[][] vis = DenseReference.visibility(new int[] {5, 7, 4, 6, 8, 3, 5},
        new AttnMode[] {CAUSAL, FULL, CAUSAL, FULL, NOISE, CAUSAL, FULL});
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray like = m.zeros(new Shape(1));
      for (AttentionBlock b : AttentionBlock.plan(MIXED).subList(0, 7)) {
        boolean[] mask = b.isSelfCausal() || b.isDense() ? null
            : Torch.adopt(SdpaAttention.mask(Torch.view(like), b), m).toBooleanArray();
        for (int r = 0; r < b.rows(); r++) {
          for (int c = 0; c < 38; c++) {
            boolean expected = vis[b.qStart() + r][c];
            int kc = c - b.kStart();
            boolean got = kc >= 0 && kc < b.keys() && (mask != null ? mask[r * b.keys() + kc]
                : !b.isSelfCausal() || kc <= r);
            assertEquals(expected, got, "row " + (b.qStart() + r) + " col " + c);
          }
        }
      }
    }
  }

  @Test
  void matchesDenseReferenceOnMixedPackWithGqa() {
    compare(MIXED, 4, 2, 8);
  }

  @Test
  void matchesEagerAttentionOnMixedPacks() {
    float[][] a = run(MIXED, 8, 2, 16, (x) -> new SdpaAttention().attend(x[0], x[1], x[2], MIXED));
    float[][] b = run(MIXED, 8, 2, 16, (x) -> new EagerAttention().attend(x[0], x[1], x[2], MIXED));
    String[] names = {"out", "dq", "dk", "dv"};
    for (int i = 0; i < a.length; i++) {
      assertClose(names[i], b[i], a[i], 1e-5f);
    }
    // An edit-style pack: text, ViT, clean VAE, text, noised VAE, then a text-to-image sample.
    PackLayout edit = new PackLayout(new int[] {40, 21},
        new int[] {4, 9, 8, 3, 16, 5, 16},
        new AttnMode[] {CAUSAL, FULL, FULL, CAUSAL, NOISE, CAUSAL, NOISE});
    a = run(edit, 4, 1, 8, (x) -> new SdpaAttention().attend(x[0], x[1], x[2], edit));
    b = run(edit, 4, 1, 8, (x) -> new EagerAttention().attend(x[0], x[1], x[2], edit));
    for (int i = 0; i < a.length; i++) {
      assertClose("edit " + names[i], b[i], a[i], 1e-5f);
    }
  }

  @Test
  void matchesDenseReferenceOnTextOnlyPack() {
    compare(new PackLayout(new int[] {7, 13}, new int[] {7, 5, 8}, new AttnMode[] {CAUSAL, CAUSAL, CAUSAL}), 2, 2, 4);
  }

  @Test
  void repeatedCallsHoldFlatMemory() {
    try (NDManager m = NDManager.newBaseManager()) {
      long before = 0;
      for (int i = 0; i < 70; i++) {
        try (NDManager step = m.newSubManager()) {
          NDArray q = step.ones(new Shape(65, 256, 128));
          NDArray kv = step.ones(new Shape(65, 2, 128));
          assertEquals(1f, new SdpaAttention().attend(q, kv, kv, MIXED).getFloat(64, 255, 127), 1e-6f);
        }
        if (i == 10) {
          before = ai.bakery.model.tensor.TorchTestAccess.rss();
        }
      }
      long growth = ai.bakery.model.tensor.TorchTestAccess.rss() - before;
      // Each call's output alone is 8.5 MiB: 59 leaked calls would hold ~500 MiB; the allocator's own caching
      // moves resident memory by tens of MiB, hence the margin.
      assertTrue(growth < 160L << 20, "resident memory grew by " + (growth >> 20) + " MiB");
    }
  }

  @Test
  void trailingPaddingSampleIsSkippedLikeEager() {
    PackLayout padded = new PackLayout(new int[] {6, 7, 5}, new int[] {2, 4, 7, 5},
        new AttnMode[] {CAUSAL, FULL, NOISE, CAUSAL});
    PackLayout real = new PackLayout(new int[] {6, 7}, new int[] {2, 4, 7}, new AttnMode[] {CAUSAL, FULL, NOISE});
    float[][] a = run(real, 2, 1, 4, (x) -> new SdpaAttention().attend(x[0], x[1], x[2], padded));
    float[][] b = run(real, 2, 1, 4, (x) -> new EagerAttention().attend(x[0], x[1], x[2], padded));
    assertClose("padded out", b[0], a[0], 1e-5f);
    assertClose("padded dq", b[1], a[1], 1e-5f);
  }

  @Test
  void rejectsMismatchedShapes() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray q = m.zeros(new Shape(10, 4, 8));
      NDArray k = m.zeros(new Shape(10, 3, 8));
      PackLayout l = new PackLayout(new int[] {10}, new int[] {10}, new AttnMode[] {CAUSAL});
      assertThrows(IllegalArgumentException.class, () -> new SdpaAttention().attend(q, k, k, l));
      NDArray k2 = m.zeros(new Shape(10, 2, 8));
      PackLayout wrong = new PackLayout(new int[] {4, 5}, new int[] {9}, new AttnMode[] {CAUSAL});
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> new SdpaAttention().attend(q, k2, k2, wrong));
      assertTrue(e.getMessage().contains("sample_lens"), e.getMessage());
      PackLayout crossing = new PackLayout(new int[] {4, 6}, new int[] {5, 5}, new AttnMode[] {CAUSAL, FULL});
      e = assertThrows(IllegalArgumentException.class, () -> new SdpaAttention().attend(q, k2, k2, crossing));
      assertTrue(e.getMessage().contains("crosses"), e.getMessage());
    }
  }

  /** Outputs and q/k/v gradients of sdpa equal the dense reference (fp32, to 1e-5). */
  static void compare(PackLayout layout, int hq, int hkv, int d) {
    float[][] a = run(layout, hq, hkv, d, (x) -> new SdpaAttention().attend(x[0], x[1], x[2], layout));
    float[][] b = run(layout, hq, hkv, d, (x) -> DenseReference.attend(x[0], x[1], x[2], layout));
    String[] names = {"out", "dq", "dk", "dv"};
    for (int i = 0; i < a.length; i++) {
      assertClose(names[i], b[i], a[i], 1e-5f);
    }
  }

  static float[][] run(PackLayout layout, int hq, int hkv, int d, Function<NDArray[], NDArray> kernel) {
    int t = layout.totalLength();
    try (NDManager m = NDManager.newBaseManager()) {
      m.getEngine().setRandomSeed(7);
      NDArray q = m.randomNormal(new Shape(t, hq, d));
      NDArray k = m.randomNormal(new Shape(t, hkv, d));
      NDArray v = m.randomNormal(new Shape(t, hkv, d));
      NDArray w = m.randomNormal(new Shape(t, hq, d));
      for (NDArray x : new NDArray[] {q, k, v}) {
        x.setRequiresGradient(true);
      }
      NDArray out;
      try (GradientCollector gc = Torch.init().newGradientCollector()) {
        out = kernel.apply(new NDArray[] {q, k, v});
        gc.backward(out.mul(w).sum());
      }
      return new float[][] {out.toFloatArray(), q.getGradient().toFloatArray(), k.getGradient().toFloatArray(),
          v.getGradient().toFloatArray()};
    }
  }

  static void assertClose(String what, float[] expected, float[] actual, float tol) {
    assertEquals(expected.length, actual.length, what + " length");
    double worst = 0;
    for (int i = 0; i < expected.length; i++) {
      assertTrue(Float.isFinite(actual[i]), what + "[" + i + "] not finite");
      worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
    }
    assertTrue(worst <= tol, what + ": max abs difference " + worst + " > " + tol);
  }
}
