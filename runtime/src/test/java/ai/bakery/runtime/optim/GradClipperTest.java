package ai.bakery.runtime.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class GradClipperTest {
  @BeforeAll
  static void start() {
    Torch.init();
  }

  static float[] grad(Parameter p) {
    long[] shape = p.value().getShape().getShape();
    float[] out = new float[(int) p.value().size()];
    Gradients.of(p).contiguous().data_ptr_float().get(out);
    return out;
  }

  @Test
  void globalNormSpansAllParametersAndClipsToTheLimit() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      Parameter a = store.create("a", new Shape(1), mm -> mm.zeros(new Shape(1)));
      Parameter b = store.create("b", new Shape(1), mm -> mm.zeros(new Shape(1)));
      AdamWTest.setGrad(m, a, 3f);
      AdamWTest.setGrad(m, b, 4f);
      double norm = new GradClipper(1.0).clip(store.trainable());
      assertEquals(5.0, norm, 1e-6);
      double coef = 1.0 / (5.0 + 1e-6);
      assertArrayEquals(new float[] {(float) (3 * coef)}, grad(a), 1e-6f);
      assertArrayEquals(new float[] {(float) (4 * coef)}, grad(b), 1e-6f);
    }
  }

  @Test
  void normBelowTheLimitLeavesGradientsAlone() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      Parameter a = store.create("a", new Shape(2), mm -> mm.zeros(new Shape(2)));
      AdamWTest.setGrad(m, a, 0.3f, 0.4f);
      assertEquals(0.5, new GradClipper(1.0).clip(store.trainable()), 1e-6);
      assertArrayEquals(new float[] {0.3f, 0.4f}, grad(a));
    }
  }

  @Test
  void nonFiniteNormIsReportedAndGradientsAreLeftForTheCallerToDrop() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      Parameter a = store.create("a", new Shape(2), mm -> mm.zeros(new Shape(2)));
      AdamWTest.setGrad(m, a, Float.NaN, 1f);
      assertTrue(Double.isNaN(new GradClipper(1.0).clip(store.trainable())));
      assertEquals(1f, grad(a)[1]);
      Gradients.clear(List.of(a));
      assertEquals(0.0, GradClipper.squaredNorm(store.trainable()));
    }
  }
}
