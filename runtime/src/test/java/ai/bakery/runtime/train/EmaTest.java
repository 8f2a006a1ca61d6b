package ai.bakery.runtime.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class EmaTest {
  @BeforeAll
  static void start() {
    Torch.init();
  }

  @Test
  void averagesTrainableWeightsAndHandsOutFrozenOnesDirectly() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      Parameter w = store.create("w", new Shape(2), mm -> mm.create(new float[] {1f, 10f}));
      Parameter frozen = store.create("f", new Shape(1), mm -> mm.create(new float[] {7f}));
      frozen.setTrainable(false);
      try (Ema ema = new Ema(store, 0.9)) {
        w.copyFrom(m.create(new float[] {2f, 20f}));
        ema.update(); // 0.9 * 1 + 0.1 * 2 = 1.1 ; 0.9 * 10 + 0.1 * 20 = 11
        w.copyFrom(m.create(new float[] {3f, 30f}));
        ema.update(); // 0.9 * 1.1 + 0.1 * 3 = 1.29 ; 12.9
        float[] e = ema.get("w").toFloatArray();
        assertEquals(1.29f, e[0], 1e-6f);
        assertEquals(12.9f, e[1], 1e-5f);
        Map<String, ai.djl.ndarray.NDArray> dict = ema.stateDict();
        assertEquals(List.of("w", "f"), List.copyOf(dict.keySet()));
        assertSame(frozen.value(), dict.get("f"));
        assertEquals(3f, w.value().getFloat(0)); // the model itself is untouched
      }
    }
  }

  @Test
  void loadAndResetSetTheAverage() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      Parameter w = store.create("w", new Shape(1), mm -> mm.create(new float[] {1f}));
      try (Ema ema = new Ema(store, 0.5)) {
        ema.load(Map.of("w", m.create(new float[] {5f})));
        assertEquals(5f, ema.get("w").getFloat(0));
        ema.update();
        assertEquals(3f, ema.get("w").getFloat(0));
        ema.resetToWeights();
        assertEquals(1f, ema.get("w").getFloat(0));
        assertEquals(1f, w.value().getFloat(0));
      }
    }
  }
}
