package ai.bakery.model.bagel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Backprop through the whole packed forward and loss agrees with central finite differences in fp64. */
class BagelGradientTest {
  static final String L0 = "language_model.model.layers.0.";
  static final String L1 = "language_model.model.layers.1.";
  static final String[] CHECKED = {
      "language_model.model.embed_tokens.weight", L0 + "self_attn.q_proj.weight", L0 + "self_attn.q_proj_moe_gen.weight",
      L0 + "self_attn.k_norm.weight", L0 + "self_attn.k_norm_moe_gen.weight", L0 + "self_attn.v_proj.bias",
      L0 + "self_attn.o_proj_moe_gen.weight", L1 + "mlp.gate_proj.weight", L1 + "mlp_moe_gen.down_proj.weight",
      L1 + "input_layernorm_moe_gen.weight", L1 + "post_attention_layernorm.weight",
      "language_model.model.norm.weight", "language_model.model.norm_moe_gen.weight", "language_model.lm_head.weight",
      "vae2llm.weight", "llm2vae.weight", "llm2vae.bias", "time_embedder.mlp.0.weight", "time_embedder.mlp.2.bias",
      "connector.fc1.weight", "connector.fc2.weight", "vit_model.vision_model.embeddings.patch_embedding.weight",
      "vit_model.vision_model.encoder.layers.0.self_attn.q_proj.weight"};

  @BeforeAll
  static void start() {
    Torch.init();
  }

  @Test
  void analyticGradientsMatchFiniteDifferences() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m);
        NDManager data = m.newSubManager()) {
      Bagel bagel = new Bagel(TinyBagel.config(3.0), store, 21L);
      bagel.setPrecision(new Fp64());
      // llm2vae starts at zero, which would cut the MSE path to everything upstream: give it values.
      Random r = new Random(5);
      for (String name : new String[] {"llm2vae.weight", "llm2vae.bias"}) {
        Parameter p = store.get(name);
        p.copyFrom(data.randomNormal(p.value().getShape()).mul(0.1));
      }
      BagelInputs in = TinyBagel.mixed(data, 8);
      NoiseSource noise = NoiseSource.fixed(17);

      try (NDManager step = data.newSubManager(); GradientCollector gc = Torch.init().newGradientCollector()) {
        NDArray loss = loss(bagel, in, step, noise);
        assertEquals(DataType.FLOAT64, loss.getDataType());
        gc.backward(loss);
      }
      int checked = 0;
      for (int k = 0; k < CHECKED.length; k++) {
        String name = CHECKED[k];
        Parameter p = store.get(name);
        float[] grad = p.value().getGradient().toFloatArray();
        float[] values = p.value().toFloatArray();
        // the largest-gradient entry everywhere, plus a random entry in every fourth parameter
        for (int trial = 0; trial < (k % 4 == 0 ? 2 : 1); trial++) {
          int i = largestOrRandom(grad, r, trial);
          double fd = finiteDifference(bagel, in, data, noise, p, values, i);
          double tol = 1e-7 + 2e-3 * Math.max(Math.abs(fd), Math.abs(grad[i]));
          assertEquals(fd, grad[i], tol, name + "[" + i + "]");
          checked++;
        }
      }
      assertTrue(checked > CHECKED.length);
    }
  }

  /** Trial 0: the entry with the largest gradient (so the check is not vacuous); trial 1: a random entry. */
  static int largestOrRandom(float[] grad, Random r, int trial) {
    if (trial == 1) {
      return r.nextInt(grad.length);
    }
    int best = 0;
    for (int i = 1; i < grad.length; i++) {
      if (Math.abs(grad[i]) > Math.abs(grad[best])) {
        best = i;
      }
    }
    assertTrue(Math.abs(grad[best]) > 0, "no gradient at all");
    return best;
  }

  static double finiteDifference(Bagel bagel, BagelInputs in, NDManager data, NoiseSource noise, Parameter p,
      float[] values, int i) {
    double h = 1e-3;
    float orig = values[i];
    float up = (float) (orig + h);
    float down = (float) (orig - h);
    double lossUp = lossWith(bagel, in, data, noise, p, values, i, up);
    double lossDown = lossWith(bagel, in, data, noise, p, values, i, down);
    try (NDManager restore = data.newSubManager()) {
      p.copyFrom(restore.create(values, p.value().getShape()));
    }
    return (lossUp - lossDown) / ((double) up - (double) down);
  }

  static double lossWith(Bagel bagel, BagelInputs in, NDManager data, NoiseSource noise, Parameter p, float[] values,
      int i, float v) {
    float[] copy = values.clone();
    copy[i] = v;
    try (NDManager step = data.newSubManager()) {
      p.copyFrom(step.create(copy, p.value().getShape()));
      return loss(bagel, in, step, noise).getDouble();
    }
  }

  static NDArray loss(Bagel bagel, BagelInputs in, NDManager step, NoiseSource noise) {
    BagelOutput out = bagel.forward(in, step, noise);
    BagelLoss.GlobalCounts counts = new BagelLoss.GlobalCounts(out.ceTokens(), 0, out.mseTokens(), 1);
    return new BagelLoss(1.0, 1.0).compute(out, null, counts, 1).loss();
  }
}
