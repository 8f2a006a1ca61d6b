package ai.bakery.model.bagel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class BagelLossTest {
  @BeforeAll
  static void start() {
    Torch.init();
  }

  @Test
  void normalisesByGlobalCountsTimesWorldSize() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray ce = m.create(new float[] {1, 2, 3});
      NDArray mse = m.create(new float[] {1, 3, 2, 2, 0, 4}, new Shape(3, 2)); // channel means 2, 2, 2
      BagelOutput out = new BagelOutput(ce, mse, 3, 3);
      // this rank has 3 of 10 CE tokens and 3 of 8 MSE tokens on 4 ranks
      BagelLoss.GlobalCounts counts = new BagelLoss.GlobalCounts(10, 0, 8, 4);
      BagelLoss.Terms terms = new BagelLoss(0.5, 2.0).compute(out, null, counts, 2);
      assertEquals(6.0 * 4 / 10, terms.ce().getFloat(), 1e-6); // 2.4
      assertEquals(6.0 * 4 / 8, terms.mse().getFloat(), 1e-6); // 3.0
      assertEquals((2.4 * 0.5 + 3.0 * 2.0) / 2, terms.loss().getFloat(), 1e-6); // 3.6
    }
  }

  @Test
  void reweightedCeDividesByTheGlobalWeightSum() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray ce = m.create(new float[] {1, 2, 3});
      NDArray w = m.create(new float[] {0.5f, 0.5f, 1f});
      BagelOutput out = new BagelOutput(ce, null, 3, 0);
      BagelLoss.GlobalCounts counts = new BagelLoss.GlobalCounts(10, 8.0, 0, 2);
      BagelLoss.Terms terms = new BagelLoss(1, 1).compute(out, w, counts, 1);
      assertEquals((0.5 + 1 + 3) * 2 / 8.0, terms.ce().getFloat(), 1e-6);
      assertNull(terms.mse());
      assertEquals(terms.ce().getFloat(), terms.loss().getFloat());
      // a single rank: its own counts
      BagelLoss.GlobalCounts local = BagelLoss.GlobalCounts.local(out, w);
      assertEquals(2.0, local.ceWeightSum(), 1e-6);
      assertEquals(4.5 / 2.0, BagelLoss.ce(ce, w, local).getFloat(), 1e-6);
    }
  }

  @Test
  void emptyTermsContributeNothing() {
    try (NDManager m = NDManager.newBaseManager()) {
      BagelOutput out = new BagelOutput(null, m.create(new float[] {1, 1}, new Shape(1, 2)), 0, 1);
      BagelLoss.Terms terms = new BagelLoss(1, 1).compute(out, null, new BagelLoss.GlobalCounts(0, 0, 1, 1), 1);
      assertNull(terms.ce());
      assertEquals(1f, terms.loss().getFloat());
      assertThrows(IllegalArgumentException.class, () -> new BagelLoss.GlobalCounts(1, 0, 1, 0));
    }
  }

  @Test
  void len2weightMatchesTheReference() {
    assertEquals(0.5f, BagelLoss.len2weight(4, "square"));
    assertEquals(0.25f, BagelLoss.len2weight(4, "sample"));
    assertEquals(1f, BagelLoss.len2weight(4, "token"));
    assertEquals(0f, BagelLoss.len2weight(0, "square"));
    assertThrows(IllegalArgumentException.class, () -> BagelLoss.len2weight(3, "cube"));
  }
}
