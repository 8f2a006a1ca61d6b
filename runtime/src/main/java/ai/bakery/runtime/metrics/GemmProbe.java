package ai.bakery.runtime.metrics;

import ai.bakery.model.tensor.Torch;
import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Measures the fp32 matrix-multiply rate of a device with square GEMMs, as the peak that MFU is relative to when
 * no vendor peak is known (a CPU). The best of several timed runs after a warm-up counts.
 */
public final class GemmProbe {
  private GemmProbe() {}

  /** fp32 GFLOP/s of {@code n x n} matmuls on {@code device}, timed for about {@code budgetMillis}. */
  public static double measureGflops(Device device, int n, long budgetMillis) {
    if (n < 64) {
      throw new IllegalArgumentException("probe size must be >= 64, got " + n);
    }
    Torch.init();
    try (NDManager m = NDManager.newBaseManager(device)) {
      NDArray a = m.randomUniform(-1, 1, new Shape(n, n), DataType.FLOAT32);
      NDArray b = m.randomUniform(-1, 1, new Shape(n, n), DataType.FLOAT32);
      try (NDManager warm = m.newSubManager()) {
        a.matMul(b).toFloatArray(); // forces completion on asynchronous devices
      }
      double flops = 2.0 * n * n * (double) n;
      double best = 0;
      long deadline = System.nanoTime() + budgetMillis * 1_000_000L;
      int runs = 0;
      while (runs < 3 || (System.nanoTime() < deadline && runs < 50)) {
        try (NDManager run = m.newSubManager()) {
          long t0 = System.nanoTime();
          NDArray c = a.matMul(b);
          c.get(0, 0).getFloat(); // sync
          long dt = System.nanoTime() - t0;
          best = Math.max(best, flops / (dt / 1e9));
        }
        runs++;
      }
      return best / 1e9;
    }
  }

  /** A 1024 x 1024 probe on the CPU for about half a second, in TFLOP/s. */
  public static double cpuPeakTflops() {
    return measureGflops(Device.cpu(), 1024, 500) / 1000.0;
  }
}
