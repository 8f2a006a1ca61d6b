package ai.bakery.model.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class TorchTest {
  @BeforeAll
  static void start() {
    Torch.init();
  }

  @Test
  void viewSharesStorageAndAdoptTransfersOwnership() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray a = m.create(new float[] {1, 2, 3, 4}, new Shape(2, 2));
      Tensor t = Torch.view(a);
      assertEquals(4, t.numel());
      Tensor doubled = t.mul(new org.bytedeco.pytorch.Scalar(2.0));
      NDArray b = Torch.adopt(doubled, m);
      assertArrayEquals(new float[] {2, 4, 6, 8}, b.toFloatArray());
      assertEquals(new Shape(2, 2), b.getShape());
    }
  }

  @Test
  void autogradFlowsThroughJavacppOps() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray x = m.create(new float[] {1, -2, 3}, new Shape(1, 3));
      x.setRequiresGradient(true);
      try (GradientCollector gc = Torch.init().newGradientCollector()) {
        NDArray y = Torch.adopt(torch.rms_norm(Torch.view(x), 3), m);
        gc.backward(y.mul(y).sum());
      }
      float[] g = x.getGradient().toFloatArray();
      // y = x / rms(x) has unit mean square, so sum(y^2) = 3 everywhere on the sphere: gradient ~ 0.
      for (float v : g) {
        assertEquals(0f, v, 1e-5f);
      }
    }
  }

  @Test
  void repeatedAdoptHoldsFlatMemory() {
    try (NDManager m = NDManager.newBaseManager()) {
      long before = 0;
      for (int i = 0; i < 4000; i++) {
        try (NDManager step = m.newSubManager()) {
          NDArray a = step.ones(new Shape(256, 256));
          NDArray b = Torch.adopt(Torch.view(a).add(Torch.view(a)), step);
          assertEquals(2f, b.getFloat(0, 0));
        }
        if (i == 500) {
          before = rss();
        }
      }
      long growth = rss() - before;
      // 3500 iterations of 256 KiB each would be ~900 MiB if anything leaked.
      assertTrue(growth < 64L << 20, "resident memory grew by " + (growth >> 20) + " MiB");
    }
  }

  static long rss() {
    try {
      for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
    throw new IllegalStateException("no VmRSS");
  }
}
