package ai.bakery.model.bagel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.NoGradGuard;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The tiny model memorises one packed batch mixing a text-to-image sample, an edit (clean VAE + ViT
 * condition) and a VLM conversation: with noise and timesteps held fixed, CE and MSE each fall at least 10x.
 */
class BagelOverfitTest {
  private static final Logger LOG = LoggerFactory.getLogger(BagelOverfitTest.class);
  static final int MAX_STEPS = 400;

  @BeforeAll
  static void start() {
    Torch.init();
  }

  @Test
  void tinyModelOverfitsOneMixedPack() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m);
        NDManager data = m.newSubManager()) {
      Bagel bagel = new Bagel(TinyBagel.config(1.0), store, 3L);
      BagelInputs in = TinyBagel.mixed(data, 12);
      NoiseSource noise = NoiseSource.fixed(99);
      BagelLoss loss = new BagelLoss(1.0, 1.0);
      Adam adam = new Adam(store.trainable(), 3e-3, m);
      double ce0 = 0;
      double mse0 = 0;
      double ce = 0;
      double mse = 0;
      int step = 0;
      int storeArrays = 0;
      int dataArrays = 0;
      for (; step < MAX_STEPS; step++) {
        try (NDManager s = data.newSubManager(); GradientCollector gc = Torch.init().newGradientCollector()) {
          BagelOutput out = bagel.forward(in, s, noise);
          BagelLoss.Terms terms = loss.compute(out, null, BagelLoss.GlobalCounts.local(out, null), 1);
          gc.backward(terms.loss());
          ce = terms.ce().getFloat();
          mse = terms.mse().getFloat();
        }
        adam.step();
        if (step == 0) {
          ce0 = ce;
          mse0 = mse;
          storeArrays = store.manager().getManagedArrays().size();
          dataArrays = data.getManagedArrays().size();
        }
        if (step % 50 == 0) {
          LOG.info("step {} ce {} mse {}", step, ce, mse);
        }
        if (ce <= ce0 / 10 && mse <= mse0 / 10) {
          break;
        }
      }
      LOG.info("stopped at step {}: ce {} -> {}, mse {} -> {}", step, ce0, ce, mse0, mse);
      // Nothing of a step outlives it on the long-lived managers (weight casts, indexes, gradients' handles).
      assertEquals(storeArrays, store.manager().getManagedArrays().size(), "arrays left on the weights' manager");
      assertEquals(dataArrays, data.getManagedArrays().size(), "arrays left on the batch's manager");
      assertTrue(ce <= ce0 / 10, "ce fell from " + ce0 + " only to " + ce);
      assertTrue(mse <= mse0 / 10, "mse fell from " + mse0 + " only to " + mse);
    }
  }

  /** Plain Adam (no weight decay), enough to drive a memorisation test; clears gradients after each step. */
  static final class Adam {
    private final List<Parameter> params;
    private final double lr;
    private final NDManager state;
    private final Map<Parameter, NDArray[]> moments = new HashMap<>();
    private int t;

    Adam(List<Parameter> params, double lr, NDManager parent) {
      this.params = params;
      this.lr = lr;
      this.state = parent.newSubManager();
    }

    void step() {
      t++;
      double c1 = 1 - Math.pow(0.9, t);
      double c2 = 1 - Math.pow(0.999, t);
      try (NoGradGuard guard = new NoGradGuard(); NDManager tmp = state.newSubManager()) {
        for (Parameter p : params) {
          NDArray g;
          try {
            g = p.value().getGradient();
          } catch (IllegalStateException noGradient) {
            continue;
          }
          g.attach(tmp);
          NDArray[] mv = moments.computeIfAbsent(p, k -> new NDArray[] {state.zeros(g.getShape()),
              state.zeros(g.getShape())});
          mv[0].muli(0.9f).addi(g.mul(0.1f));
          mv[1].muli(0.999f).addi(g.square().mul(0.001f));
          NDArray mHat = mv[0].div(c1);
          mHat.attach(tmp);
          NDArray vHat = mv[1].div(c2);
          vHat.attach(tmp);
          p.value().subi(mHat.div(vHat.sqrt().add(1e-8f)).mul((float) lr));
          g.subi(g); // zero the gradient in place for the next step
        }
      }
    }
  }
}
