package ai.bakery.model.bench;

import ai.bakery.model.tensor.Bf16Gemm;
import ai.bakery.model.tensor.Torch;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The machine's dense matmul rates, measured in-process with torch.linear (the model's call): the denominators
 * of MFU.
 *
 * @param fp32Gflops fp32 GEMM, the best of one BLAS thread (the process's setting, see
 *     {@link Torch#setBlasThreads}) and one per core, so that MFU is against what the cores can do
 * @param bf16Gflops libtorch's own bf16 GEMM (oneDNN where the CPU has bf16 instructions, a generic loop
 *     elsewhere)
 * @param bf16PathGflops bf16 matmul as the model runs it: libtorch's bf16 GEMM where {@link Bf16Gemm#isNative},
 *     else an fp32 GEMM of bf16 values with both casts
 */
public record GemmProbe(double fp32Gflops, double bf16Gflops, double bf16PathGflops, int n) {

  public static GemmProbe measure(int n) {
    Torch.init();
    double fp32 = fp32Gflops(n);
    // libtorch's generic bf16 loop is 6-60x slower than fp32: a smaller product keeps its probe short.
    double bf16 = rate(Bf16Gemm.isNative() ? n : Math.max(64, n / 2), ScalarType.BFloat16, false);
    double path = Bf16Gemm.isNative() ? bf16 : rate(n, ScalarType.BFloat16, true);
    return new GemmProbe(fp32, bf16, path, n);
  }

  /** fp32 GEMM GFLOP/s (best of one BLAS thread and one per core): the peak a CPU run's MFU is measured against. */
  public static double fp32Gflops(int n) {
    Torch.init();
    double single = rate(n, ScalarType.Float, false);
    int cores = Runtime.getRuntime().availableProcessors();
    int before = Torch.blasThreads();
    if (cores == 1 || before < 1) {
      return single;
    }
    Torch.setBlasThreads(cores);
    try {
      return Math.max(single, rate(n, ScalarType.Float, false));
    } finally {
      Torch.setBlasThreads(before);
    }
  }

  /** Best of several timed n x n x n products, in GFLOP/s; {@code viaFp32} adds the casts of Linear's fp32 route. */
  static double rate(int n, ScalarType type, boolean viaFp32) {
    if (n < 64) {
      throw new IllegalArgumentException("probe size must be >= 64, got " + n);
    }
    try (PointerScope scope = new PointerScope()) {
      Tensor a = torch.randn(n, n).to(type);
      Tensor b = torch.randn(n, n).to(type);
      once(a, b, viaFp32); // warm up
      double best = Double.MAX_VALUE;
      for (int i = 0; i < 3; i++) {
        long t0 = System.nanoTime();
        once(a, b, viaFp32);
        best = Math.min(best, (System.nanoTime() - t0) / 1e9);
      }
      return 2.0 * n * n * n / best / 1e9;
    }
  }

  private static void once(Tensor a, Tensor b, boolean viaFp32) {
    try (PointerScope scope = new PointerScope()) {
      if (viaFp32) {
        torch.linear(a.to(ScalarType.Float), b.to(ScalarType.Float)).to(ScalarType.BFloat16);
      } else {
        torch.linear(a, b);
      }
    }
  }
}
