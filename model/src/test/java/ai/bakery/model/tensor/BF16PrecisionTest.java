package ai.bakery.model.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.attention.AttnMode;
import ai.bakery.model.attention.PackLayout;
import ai.bakery.model.attention.SdpaAttention;
import ai.bakery.model.nn.Activations;
import ai.bakery.model.nn.Init;
import ai.bakery.model.nn.Linear;
import ai.bakery.model.nn.RmsNorm;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class BF16PrecisionTest {
  @BeforeAll
  static void start() {
    Torch.init();
  }

  /** A two-layer block with a norm and an attention core, built on the model's own modules. */
  record Net(Linear up, RmsNorm norm, Linear qkv, Linear down) {
    static Net create(ParameterStore store, Precision p) {
      Init init = Init.seeded(11);
      return new Net(new Linear(store, "up", 64, 128, true, init, p), new RmsNorm(store, "norm", 128, 1e-6, p),
          new Linear(store, "qkv", 128, 3 * 128, true, init, p), new Linear(store, "down", 128, 16, true, init, p));
    }

    NDArray loss(NDArray x, NDArray target, Precision p) {
      NDArray h = Activations.silu(norm.forward(up.forward(x))); // (T, 128)
      NDArray heads = qkv.forward(h).reshape(x.getShape().get(0), 3, 4, 32);
      PackLayout layout = new PackLayout(new int[] {20, 12}, new int[] {6, 14, 12},
          new AttnMode[] {AttnMode.CAUSAL, AttnMode.FULL, AttnMode.CAUSAL});
      NDArray a = new SdpaAttention().attend(heads.get(":,0"), heads.get(":,1"), heads.get(":,2"), layout);
      NDArray y = down.forward(a.reshape(x.getShape().get(0), 128).add(h));
      return p.full(y).sub(target).square().mean(); // loss in fp32
    }
  }

  @Test
  void bf16StepMatchesFp32WithinBf16Tolerance() {
    float[][] fp32 = step(Precision.FP32);
    float[][] bf16 = step(BF16Precision.INSTANCE);
    // Loss: bf16 keeps 8 mantissa bits (relative rounding 2^-9 per op); over a handful of ops 2% is generous
    // yet far below what a wrong cast or missing gradient path would give.
    assertEquals(fp32[0][0], bf16[0][0], 0.02 * Math.abs(fp32[0][0]), "loss");
    assertTrue(fp32[0][0] != bf16[0][0], "bf16 path must actually compute in bf16");
    // Gradients: relative L2 error <= 5% and cosine >= 0.995 for every weight.
    for (int i = 1; i < fp32.length; i++) {
      double dot = 0;
      double na = 0;
      double nb = 0;
      double diff = 0;
      for (int j = 0; j < fp32[i].length; j++) {
        dot += fp32[i][j] * bf16[i][j];
        na += fp32[i][j] * fp32[i][j];
        nb += bf16[i][j] * bf16[i][j];
        diff += (fp32[i][j] - bf16[i][j]) * (fp32[i][j] - bf16[i][j]);
      }
      double rel = Math.sqrt(diff / na);
      double cos = dot / Math.sqrt(na * nb);
      assertTrue(rel <= 0.05 && cos >= 0.995, "grad " + i + ": relative error " + rel + ", cosine " + cos);
    }
  }

  @Test
  void castsRoundTripAndKeepMastersFp32() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray x = m.create(new float[] {1f, 1.00390625f, 1.01171875f, -3.5f});
      NDArray b = BF16Precision.INSTANCE.activation(x);
      assertTrue(BF16Precision.isBf16(b));
      assertSame(b, BF16Precision.INSTANCE.activation(b));
      NDArray back = BF16Precision.INSTANCE.full(b);
      assertEquals(DataType.FLOAT32, back.getDataType());
      // 1 + 2^-8 is halfway between bf16 neighbours 1 and 1 + 2^-7: ties go to even (1.0).
      assertEquals(List.of(1f, 1f, 1.015625f, -3.5f), boxed(back.toFloatArray()));
      assertSame(x, BF16Precision.INSTANCE.full(x));
    }
  }

  private static float[][] step(Precision p) {
    try (NDManager root = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(root)) {
      Net net = Net.create(store, p);
      try (NDManager step = root.newSubManager()) {
        step.getEngine().setRandomSeed(5);
        NDArray x = step.randomNormal(new Shape(32, 64));
        NDArray target = step.randomNormal(new Shape(32, 16));
        NDArray loss;
        try (GradientCollector gc = Torch.init().newGradientCollector()) {
          loss = net.loss(x, target, p);
          gc.backward(loss);
        }
        List<float[]> out = new ArrayList<>();
        out.add(new float[] {loss.getFloat()});
        for (Parameter param : store.all().values()) {
          NDArray g = param.value().getGradient();
          assertEquals(DataType.FLOAT32, g.getDataType(), param.name() + " gradient must reach the fp32 master");
          out.add(g.toFloatArray());
        }
        return out.toArray(new float[0][]);
      }
    }
  }

  private static List<Float> boxed(float[] a) {
    List<Float> l = new ArrayList<>();
    for (float f : a) {
      l.add(f);
    }
    return l;
  }
}
