package ai.bakery.model.bench;

import ai.bakery.model.tensor.Torch;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** The machine's dense matmul rate in fp32 and bf16, measured in-process: the denominator of MFU. */
public record GemmProbe(double fp32Gflops, double bf16Gflops, int n) {

  public static GemmProbe measure(int n) {
    Torch.init();
    return new GemmProbe(rate(n, ScalarType.Float), rate(n, ScalarType.BFloat16), n);
  }

  /** fp32 GFLOP/s alone: the peak a CPU training run's MFU is measured against. */
  public static double fp32Gflops(int n) {
    Torch.init();
    return rate(n, ScalarType.Float);
  }

  /** Best of several timed n x n x n matmuls, in GFLOP/s. */
  static double rate(int n, ScalarType type) {
    if (n < 64) {
      throw new IllegalArgumentException("probe size must be >= 64, got " + n);
    }
    try (PointerScope scope = new PointerScope()) {
      Tensor a = torch.randn(n, n).to(type);
      Tensor b = torch.randn(n, n).to(type);
      torch.linear(a, b); // warm up (linear, as the model calls it: plain matmul takes a slow bf16 path)
      double best = Double.MAX_VALUE;
      for (int i = 0; i < 3; i++) {
        long t0 = System.nanoTime();
        torch.linear(a, b);
        best = Math.min(best, (System.nanoTime() - t0) / 1e9);
      }
      return 2.0 * n * n * n / best / 1e9;
    }
  }
}
