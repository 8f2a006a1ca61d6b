package ai.bakery.runtime.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class AdamWTest {
  @BeforeAll
  static void start() {
    Torch.init();
  }

  /** Sets p's gradient to exactly {@code g} through a real backward of sum(p * g). */
  static void setGrad(NDManager m, Parameter p, float... g) {
    Gradients.clear(List.of(p));
    try (NDManager step = m.newSubManager(); GradientCollector gc = Torch.init().newGradientCollector()) {
      NDArray c = step.create(g, p.value().getShape());
      gc.backward(c.mul(p.value()).sum());
    }
  }

  @Test
  void oneAndTwoStepsMatchHandComputedValues() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      Parameter w = store.create("w", new Shape(2), mm -> mm.create(new float[] {1f, -2f}));
      OptimizerConfig c = new OptimizerConfig(0.1, 0.9, 0.95, 1e-8, 0.1, 1.0);
      try (AdamW opt = new AdamW(store, c)) {
        setGrad(m, w, 0.5f, 0.5f);
        opt.step(0.1);
        // step 1: w *= 1 - 0.1*0.1; m = 0.05; v = 0.0125; m_hat / sqrt(v_hat) = 0.05/0.1 / sqrt(0.0125/0.05) = 1
        float[] v1 = w.value().toFloatArray();
        assertEquals(0.99f - 0.1f, v1[0], 1e-6f);
        assertEquals(-1.98f - 0.1f, v1[1], 1e-6f);

        setGrad(m, w, -0.25f, -0.25f);
        opt.step(0.1);
        // step 2: m = 0.045 - 0.025 = 0.02; v = 0.011875 + 0.003125 = 0.015; bc1 = 0.19; bc2 = 0.0975
        double update = 0.1 / 0.19 * 0.02 / (Math.sqrt(0.015) / Math.sqrt(0.0975) + 1e-8);
        float[] v2 = w.value().toFloatArray();
        assertEquals(0.89 * 0.99 - update, v2[0], 1e-6);
        assertEquals(-2.08 * 0.99 - update, v2[1], 1e-6);

        AdamW.State s = opt.exportState();
        assertEquals(2L, s.steps().get("w"));
        assertEquals(0.02f, s.tensors().get("w.exp_avg").toFloatArray()[0], 1e-7f);
        assertEquals(0.015f, s.tensors().get("w.exp_avg_sq").toFloatArray()[1], 1e-7f);
      }
    }
  }

  @Test
  void epsEntersTheDenominatorAfterBiasCorrection() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      Parameter w = store.create("w", new Shape(1), mm -> mm.create(new float[] {1f}));
      try (AdamW opt = new AdamW(store, new OptimizerConfig(0.1, 0.9, 0.95, 0.5, 0.0, 1.0))) {
        setGrad(m, w, 0.5f);
        opt.step(0.1);
        // m_hat = 0.5, sqrt(v_hat) = 0.5; denominator 0.5 + 0.5 = 1: w = 1 - 0.1 * 0.5
        assertEquals(0.95f, w.value().getFloat(0), 1e-7f);
      }
    }
  }

  @Test
  void parametersWithoutGradientAreNotTouched() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      Parameter a = store.create("a", new Shape(1), mm -> mm.create(new float[] {1f}));
      Parameter frozen = store.create("frozen", new Shape(1), mm -> mm.create(new float[] {3f}));
      frozen.setTrainable(false);
      try (AdamW opt = new AdamW(store, new OptimizerConfig(0.1, 0.9, 0.95, 1e-15, 0.5, 1.0))) {
        setGrad(m, a, 1f);
        opt.step(0.1);
        assertEquals(3f, frozen.value().getFloat(0));
        assertEquals(List.of("a"), List.copyOf(opt.exportState().steps().keySet()));
        Gradients.clear(store.all().values());
        assertNull(Gradients.of(a));
        float before = a.value().getFloat(0);
        opt.step(0.1); // no gradient anywhere: no update, not even weight decay (torch skips grad-less params)
        assertEquals(before, a.value().getFloat(0));
      }
    }
  }

  @Test
  void exportedStateRestoresIdenticalUpdates() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore s1 = new ParameterStore(m);
        ParameterStore s2 = new ParameterStore(m)) {
      Parameter w1 = s1.create("w", new Shape(3), mm -> mm.create(new float[] {1f, 2f, 3f}));
      Parameter w2 = s2.create("w", new Shape(3), mm -> mm.create(new float[] {1f, 2f, 3f}));
      OptimizerConfig c = OptimizerConfig.DEFAULTS;
      try (AdamW o1 = new AdamW(s1, c); AdamW o2 = new AdamW(s2, c)) {
        setGrad(m, w1, 0.3f, -0.1f, 2f);
        o1.step(1e-2);
        w2.copyFrom(w1.value());
        o2.importState(o1.exportState());
        setGrad(m, w1, 1f, 1f, -1f);
        setGrad(m, w2, 1f, 1f, -1f);
        o1.step(1e-2);
        o2.step(1e-2);
        assertTrue(java.util.Arrays.equals(w1.value().toFloatArray(), w2.value().toFloatArray()));
      }
    }
  }

  @Test
  void importRejectsMismatchedShapesNamingTheTensor() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      store.create("w", new Shape(2), mm -> mm.zeros(new Shape(2)));
      try (AdamW opt = new AdamW(store, OptimizerConfig.DEFAULTS)) {
        AdamW.State bad = new AdamW.State(
            Map.of("w.exp_avg", m.zeros(new Shape(3)), "w.exp_avg_sq", m.zeros(new Shape(3))), Map.of("w", 1L));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> opt.importState(bad));
        assertTrue(e.getMessage().contains("w.exp_avg"), e.getMessage());
      }
    }
  }
}
