package ai.bakery.model.bagel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.attention.AttentionKernel;
import ai.bakery.model.attention.EagerAttention;
import ai.bakery.model.attention.SdpaAttention;
import ai.bakery.model.recompute.SegmentRunner;
import ai.bakery.model.recompute.SegmentedBackward;
import ai.bakery.model.tensor.BF16Precision;
import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The tiny BAGEL step under activation recompute and under bf16 compute, against the plain fp32 step. */
class BagelStepVariantsTest {
  @BeforeAll
  static void start() {
    Torch.init();
  }

  @Test
  void recomputeGivesThePlainGradients() {
    Map<String, float[]> plain = step(Precision.FP32, false);
    Map<String, float[]> recomputed = step(Precision.FP32, true);
    assertEquals(plain.keySet(), recomputed.keySet());
    int reached = 0;
    for (String name : plain.keySet()) {
      float[] a = plain.get(name);
      float[] b = recomputed.get(name);
      double scale = maxAbs(a);
      reached += scale > 0 ? 1 : 0;
      for (int i = 0; i < a.length; i++) {
        assertEquals(a[i], b[i], 1e-6 * Math.max(1, scale), name + "[" + i + "]");
      }
    }
    // Decoder layers, ViT layers and connector all sit inside checkpointed chains: they must get gradients.
    assertTrue(maxAbs(recomputed.get("connector.fc1.weight")) > 0);
    assertTrue(maxAbs(recomputed.get("vit_model.vision_model.encoder.layers.0.self_attn.q_proj.weight")) > 0);
    assertTrue(maxAbs(recomputed.get("language_model.model.layers.0.self_attn.q_proj_moe_gen.weight")) > 0);
    assertTrue(reached > plain.size() / 2, reached + " of " + plain.size());
  }

  @Test
  void recomputeUnderBf16MatchesThePlainBf16Step() {
    Map<String, float[]> plain = step(BF16Precision.INSTANCE, false);
    Map<String, float[]> recomputed = step(BF16Precision.INSTANCE, true);
    for (String name : plain.keySet()) {
      float[] a = plain.get(name);
      float[] b = recomputed.get(name);
      double scale = maxAbs(a);
      for (int i = 0; i < a.length; i++) {
        // The same bf16 ops; only the per-segment accumulation order of fp32 gradients differs.
        assertEquals(a[i], b[i], 1e-5 * Math.max(1, scale), name + "[" + i + "]");
      }
    }
  }

  @Test
  void bf16StepMatchesFp32() {
    Map<String, float[]> fp32 = step(Precision.FP32, false);
    compareBf16(fp32, step(BF16Precision.INSTANCE, false));
    compareBf16(fp32, step(BF16Precision.INSTANCE, false, new SdpaAttention()));
  }

  static void compareBf16(Map<String, float[]> fp32, Map<String, float[]> bf16) {
    float lossA = fp32.get("loss")[0];
    float lossB = bf16.get("loss")[0];
    // bf16 (8-bit mantissa) through ~20 matmuls and norms: the loss within 2%, gradients at cosine >= 0.999
    // and relative L2 error <= 5% per tensor (measured: cosine >= 0.9998, error <= 2%).
    assertEquals(lossA, lossB, 0.02 * Math.abs(lossA), "loss");
    assertTrue(lossA != lossB, "bf16 must change the arithmetic");
    for (String name : fp32.keySet()) {
      float[] a = fp32.get(name);
      float[] b = bf16.get(name);
      double na = 0;
      double nb = 0;
      double dot = 0;
      double diff = 0;
      for (int i = 0; i < a.length; i++) {
        na += a[i] * a[i];
        nb += b[i] * b[i];
        dot += a[i] * b[i];
        diff += (a[i] - b[i]) * (a[i] - b[i]);
      }
      if (na < 1e-12) {
        continue;
      }
      double cos = dot / Math.sqrt(na * nb);
      double rel = Math.sqrt(diff / na);
      assertTrue(cos >= 0.999 && rel <= 0.05, name + ": cosine " + cos + ", relative error " + rel);
    }
  }

  /** Loss and every parameter's gradient after one step on the shared mixed pack. */
  static Map<String, float[]> step(Precision precision, boolean recompute) {
    return step(precision, recompute, new EagerAttention());
  }

  static Map<String, float[]> step(Precision precision, boolean recompute, AttentionKernel kernel) {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m);
        NDManager data = m.newSubManager()) {
      Bagel bagel = new Bagel(TinyBagel.config(3.0), store, 21L);
      for (String name : new String[] {"llm2vae.weight", "llm2vae.bias"}) {
        data.getEngine().setRandomSeed(4);
        Parameter p = store.get(name); // zero-initialised: give the MSE path a gradient upstream
        p.copyFrom(data.randomNormal(p.value().getShape()).mul(0.1));
      }
      bagel.setPrecision(precision);
      bagel.setAttentionKernel(kernel);
      BagelInputs in = TinyBagel.mixed(data, 8);
      Map<String, float[]> out = new LinkedHashMap<>();
      try (NDManager step = data.newSubManager(); GradientCollector gc = Torch.init().newGradientCollector()) {
        SegmentedBackward sb = new SegmentedBackward();
        bagel.setSegmentRunner(recompute ? sb : SegmentRunner.PLAIN);
        NDArray loss = BagelGradientTest.loss(bagel, in, step, NoiseSource.fixed(17));
        gc.backward(loss);
        if (recompute) {
          assertTrue(sb.pending() >= 3, "ViT, connector and LLM chains, got " + sb.pending());
          sb.backward(gc);
        }
        out.put("loss", new float[] {precision.full(loss).toFloatArray()[0]});
      }
      for (Parameter p : store.all().values()) {
        if (p.trainable() && p.value().hasGradient()) {
          out.put(p.name(), p.value().getGradient().toFloatArray());
        }
      }
      return out;
    }
  }

  static double maxAbs(float[] a) {
    double s = 0;
    for (float v : a) {
      s = Math.max(s, Math.abs(v));
    }
    return s;
  }
}
