package ai.bakery.model.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class ConvNormTest {
  @BeforeAll
  static void start() {
    Torch.init();
  }

  @Test
  void layerNormMatchesHandComputation() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      LayerNorm ln = new LayerNorm(store, "ln", 4, 1e-6);
      store.get("ln.weight").copyFrom(m.create(new float[] {1, 2, 1, 1}));
      store.get("ln.bias").copyFrom(m.create(new float[] {0, 0, 0, 0.5f}));
      try (NDManager step = m.newSubManager()) {
        NDArray y = ln.forward(step.create(new float[] {1, 2, 3, 4}, new Shape(1, 4)));
        // mean 2.5, var 1.25: (x - 2.5) / sqrt(1.25)
        double s = Math.sqrt(1.25 + 1e-6);
        assertArrayEquals(new float[] {(float) (-1.5 / s), (float) (2 * -0.5 / s), (float) (0.5 / s),
            (float) (1.5 / s + 0.5)}, y.toFloatArray(), 1e-5f);
        assertEquals(new Shape(1, 4), y.getShape());
      }
    }
  }

  @Test
  void groupNormNormalisesEachGroup() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      GroupNorm gn = new GroupNorm(store, "gn", 2, 4, 1e-6, Precision.FP32);
      try (NDManager step = m.newSubManager()) {
        // channels {0,1} form group 0 with values 0..7, channels {2,3} group 1 all equal to 5.
        float[] x = new float[16];
        for (int i = 0; i < 8; i++) {
          x[i] = i;
          x[8 + i] = 5;
        }
        NDArray y = gn.forward(step.create(x, new Shape(1, 4, 2, 2)));
        float[] out = y.toFloatArray();
        double sd = Math.sqrt(5.25 + 1e-6); // variance of 0..7
        assertEquals((0 - 3.5) / sd, out[0], 1e-5);
        assertEquals((7 - 3.5) / sd, out[7], 1e-5);
        assertEquals(0f, out[12], 1e-5f);
      }
      assertThrows(IllegalArgumentException.class, () -> new GroupNorm(store, "bad", 3, 4, 1e-6, Precision.FP32));
    }
  }

  @Test
  void conv2dMatchesHandComputationAndCarriesGradients() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      Conv2d conv = new Conv2d(store, "c", 1, 1, 3, 1, 1, Init.forLoading(), Precision.FP32);
      // A 3x3 kernel that sums the neighbourhood, bias 1.
      store.get("c.weight").copyFrom(m.ones(new Shape(1, 1, 3, 3)));
      store.get("c.bias").copyFrom(m.ones(new Shape(1)));
      try (NDManager step = m.newSubManager()) {
        NDArray x = step.arange(1f, 10f).reshape(1, 1, 3, 3);
        NDArray y;
        try (GradientCollector gc = Torch.init().newGradientCollector()) {
          y = conv.forward(x);
          gc.backward(y.sum());
        }
        // centre sees all of 1..9 (45), corner (0,0) sees 1,2,4,5 (12); both + bias.
        assertEquals(46f, y.getFloat(0, 0, 1, 1));
        assertEquals(13f, y.getFloat(0, 0, 0, 0));
        // d(sum y)/d bias = number of outputs; d/d w[0][0] = sum of inputs that tap (0,0) = 1+2+4+5.
        assertEquals(9f, store.get("c.bias").value().getGradient().getFloat(0));
        assertEquals(12f, store.get("c.weight").value().getGradient().getFloat(0, 0, 0, 0));
      }
    }
  }
}
