package ai.bakery.model.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.tensor.BF16Precision;
import ai.bakery.model.tensor.Bf16GemmAccess;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.List;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Linear's fp32 route for bf16 products gives libtorch's native bf16 GEMM results, forward and backward. */
class Bf16GemmRouteTest {
  @BeforeAll
  static void start() {
    Torch.init();
  }

  @Test
  void cpuFlagsDecideTheRoute() {
    // Zen 3 (this kind of machine): AVX2 only.
    assertFalse(Bf16GemmAccess.hasBf16(List.of("processor : 0", "flags : fpu sse2 avx fma avx2 bmi2")));
    assertTrue(Bf16GemmAccess.hasBf16(List.of("flags\t\t: avx2 avx512f avx512_bf16 avx512_vnni")));
    assertTrue(Bf16GemmAccess.hasBf16(List.of("flags : avx2 amx_bf16 amx_tile")));
    assertTrue(Bf16GemmAccess.hasBf16(List.of("Features : fp asimd bf16 i8mm")));
    assertFalse(Bf16GemmAccess.hasBf16(List.of("Features : fp asimd sve")));
    // Only the first CPU's line counts.
    assertFalse(Bf16GemmAccess.hasBf16(List.of("flags : avx2", "flags : avx512_bf16")));
  }

  @Test
  void fp32RouteEqualsNativeBf16ForwardAndBackward() {
    float[][] viaFp32 = run(true);
    float[][] native16 = run(false);
    for (int k = 0; k < viaFp32.length; k++) {
      assertEquals(native16[k].length, viaFp32[k].length);
      for (int i = 0; i < viaFp32[k].length; i++) {
        // Same bf16 inputs, fp32 accumulation in both: results agree to bf16 rounding of the sums (2^-8
        // relative), whatever the summation order.
        double tol = Math.abs(native16[k][i]) / 128 + 1e-6;
        assertEquals(native16[k][i], viaFp32[k][i], tol, "tensor " + k + " element " + i);
      }
    }
  }

  /** y = x W^T + b in bf16 over fp32 masters; returns y and the fp32 gradients of x, W and b. */
  private static float[][] run(boolean viaFp32) {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray x = m.create(seeded(37 * 70, 1), new Shape(37, 70));
      NDArray w = m.create(seeded(23 * 70, 2), new Shape(23, 70));
      NDArray b = m.create(seeded(23, 3), new Shape(23));
      x.setRequiresGradient(true);
      w.setRequiresGradient(true);
      b.setRequiresGradient(true);
      try (GradientCollector gc = Torch.init().newGradientCollector()) {
        NDArray y = Linear.linear(BF16Precision.INSTANCE.activation(x), BF16Precision.INSTANCE.weight(w),
            BF16Precision.INSTANCE.weight(b), m, viaFp32);
        assertTrue(BF16Precision.isBf16(y), "the product stays bf16");
        NDArray yf = BF16Precision.cast(y, ScalarType.Float);
        NDArray weights = m.create(seeded(37 * 23, 4), new Shape(37, 23));
        gc.backward(yf.mul(weights).sum());
        return new float[][] {yf.toFloatArray(), x.getGradient().toFloatArray(), w.getGradient().toFloatArray(),
            b.getGradient().toFloatArray()};
      }
    }
  }

  private static float[] seeded(int n, int seed) {
    java.util.Random r = new java.util.Random(seed);
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) r.nextGaussian();
    }
    return v;
  }
}
