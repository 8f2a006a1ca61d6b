package ai.bakery.model.bagel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import ai.bakery.model.attention.AttentionKernel;
import ai.bakery.model.attention.EagerAttention;
import ai.bakery.model.attention.SdpaAttention;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The whole model gives the same losses and gradients with the eager and the fused attention kernels. */
class KernelParityTest {
  static final String[] WATCHED = {"language_model.model.layers.0.self_attn.q_proj.weight",
      "language_model.model.layers.0.self_attn.k_proj_moe_gen.weight", "vae2llm.weight", "connector.fc1.weight"};

  @BeforeAll
  static void start() {
    Torch.init();
  }

  @Test
  void eagerAndSdpaAgreeOnTheMixedPack() {
    float[][] eager = run(new EagerAttention());
    float[][] sdpa = run(new SdpaAttention());
    for (int i = 0; i < eager.length; i++) {
      assertArrayEquals(eager[i], sdpa[i], 2e-5f, i < 2 ? "loss term " + i : "gradient of " + WATCHED[i - 2]);
    }
  }

  /** ce, mse per token, then the watched gradients. */
  static float[][] run(AttentionKernel kernel) {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m);
        NDManager step = m.newSubManager()) {
      Bagel bagel = new Bagel(TinyBagel.config(1.0), store, 13L);
      bagel.setAttentionKernel(kernel);
      // llm2vae starts at zero; give it the same (host-seeded) values in both runs so MSE reaches the kernel
      java.util.Random r = new java.util.Random(2);
      float[] w = new float[16 * 32];
      for (int i = 0; i < w.length; i++) {
        w[i] = (float) (0.1 * r.nextGaussian());
      }
      store.get("llm2vae.weight").copyFrom(step.create(w, new ai.djl.ndarray.types.Shape(16, 32)));
      float[][] out = new float[2 + WATCHED.length][];
      try (GradientCollector gc = Torch.init().newGradientCollector()) {
        BagelOutput o = bagel.forward(TinyBagel.mixed(step, 3), step, NoiseSource.fixed(4));
        out[0] = o.ce().toFloatArray();
        out[1] = o.mse().toFloatArray();
        gc.backward(new BagelLoss(1, 1).compute(o, null, BagelLoss.GlobalCounts.local(o, null), 1).loss());
      }
      for (int i = 0; i < WATCHED.length; i++) {
        out[2 + i] = store.get(WATCHED[i]).value().getGradient().toFloatArray();
      }
      return out;
    }
  }
}
