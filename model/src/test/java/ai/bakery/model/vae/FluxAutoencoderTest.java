package ai.bakery.model.vae;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.config.VaeConfig;
import ai.bakery.model.nn.Init;
import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class FluxAutoencoderTest {
  /** FLUX's layout (four levels, downsample 8) at a width a CPU test affords. */
  static final VaeConfig SMALL = new VaeConfig(32, 3, 32, 3, List.of(1, 2, 4, 4), 1, 4, 0.3611, 0.1159);

  @BeforeAll
  static void start() {
    Torch.init();
  }

  @Test
  void fluxParameterNamesAndShapes() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      new FluxAutoencoder(VaeConfig.FLUX, store, "");
      assertEquals(new Shape(128, 3, 3, 3), store.get("encoder.conv_in.weight").value().getShape());
      assertEquals(new Shape(128), store.get("encoder.down.0.block.0.norm1.weight").value().getShape());
      assertEquals(new Shape(256, 128, 1, 1), store.get("encoder.down.1.block.0.nin_shortcut.weight").value().getShape());
      assertEquals(new Shape(512, 512, 3, 3), store.get("encoder.down.2.downsample.conv.weight").value().getShape());
      assertFalse(store.contains("encoder.down.3.downsample.conv.weight"));
      assertEquals(new Shape(512, 512, 1, 1), store.get("encoder.mid.attn_1.q.weight").value().getShape());
      assertEquals(new Shape(32, 512, 3, 3), store.get("encoder.conv_out.weight").value().getShape());
      assertEquals(new Shape(512, 16, 3, 3), store.get("decoder.conv_in.weight").value().getShape());
      assertEquals(new Shape(512, 512, 3, 3), store.get("decoder.up.3.upsample.conv.weight").value().getShape());
      assertTrue(store.contains("decoder.up.3.block.2.conv2.weight")); // num_res_blocks + 1 per level
      assertFalse(store.contains("decoder.up.0.upsample.conv.weight"));
      assertEquals(new Shape(256, 512, 1, 1), store.get("decoder.up.1.block.0.nin_shortcut.weight").value().getShape());
      assertEquals(new Shape(3, 128, 3, 3), store.get("decoder.conv_out.weight").value().getShape());
      assertEquals(83_819_683L, store.numel()); // FLUX ae.safetensors' parameter count
    }
  }

  @Test
  void encodeDecodeShapesWithDownsampleEight() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      FluxAutoencoder vae = new FluxAutoencoder(SMALL, store, "vae", Init.seeded(3), Precision.FP32);
      assertEquals(8, SMALL.downsample());
      try (NDManager step = m.newSubManager()) {
        NDArray img = step.randomUniform(-1, 1, new Shape(2, 3, 16, 24));
        NDArray z = vae.encode(img);
        assertEquals(new Shape(2, 4, 2, 3), z.getShape());
        NDArray mean = vae.encodeMean(img);
        assertArrayEquals(mean.toFloatArray(), vae.encodeMean(img).toFloatArray()); // deterministic
        assertFalse(java.util.Arrays.equals(mean.toFloatArray(), z.toFloatArray())); // encode samples
        assertEquals(new Shape(2, 3, 16, 24), vae.decode(z).getShape());
        assertThrows(IllegalArgumentException.class, () -> vae.encode(step.zeros(new Shape(1, 3, 20, 16))));
      }
    }
  }

  @Test
  void scalingMatchesTheReference() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      // All-zero convolutions: the encoder outputs mean 0 and logvar 0 everywhere.
      FluxAutoencoder vae = new FluxAutoencoder(SMALL, store, "");
      try (NDManager step = m.newSubManager()) {
        NDArray z = vae.encodeMean(step.randomNormal(new Shape(1, 3, 8, 8)));
        assertEquals((float) (0.3611 * (0 - 0.1159)), z.getFloat(0, 0, 0, 0), 1e-7f);
        NDArray back = vae.unscale(vae.scale(step.create(new float[] {0.25f, -3f})));
        assertArrayEquals(new float[] {0.25f, -3f}, back.toFloatArray(), 1e-6f);
        DiagonalGaussian g = vae.posterior(step.randomNormal(new Shape(1, 3, 8, 8)));
        assertEquals(0f, g.kl().getFloat(0), 1e-6f); // N(0, 1) exactly
        assertEquals(new Shape(1, 3, 8, 8), vae.decode(z).getShape());
      }
    }
  }

  @Test
  void gradientsMatchFiniteDifferences() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      VaeConfig twoLevels = new VaeConfig(8, 3, 32, 3, List.of(1, 2), 1, 4, 0.3611, 0.1159);
      FluxAutoencoder vae = new FluxAutoencoder(twoLevels, store, "", Init.seeded(5), Precision.FP32);
      try (NDManager step = m.newSubManager()) {
        NDArray img = uniform(step, 11, new Shape(1, 3, 8, 8));
        NDArray target = uniform(step, 12, new Shape(1, 3, 8, 8));
        try (GradientCollector gc = Torch.init().newGradientCollector()) {
          gc.backward(loss(vae, img, target));
        }
        assertTrue(store.get("encoder.conv_in.weight").value().getGradient().abs().sum().getFloat() > 0);
        for (String name : new String[] {"encoder.mid.attn_1.q.weight", "decoder.up.1.upsample.conv.weight"}) {
          Parameter p = store.get(name);
          float analytic = p.value().getGradient().toFloatArray()[1];
          float[] w = p.value().toFloatArray();
          float h = 1e-2f;
          float orig = w[1];
          w[1] = orig + h;
          p.copyFrom(step.create(w, p.value().getShape()));
          float up = loss(vae, img, target).getFloat();
          w[1] = orig - h;
          p.copyFrom(step.create(w, p.value().getShape()));
          float down = loss(vae, img, target).getFloat();
          w[1] = orig;
          p.copyFrom(step.create(w, p.value().getShape()));
          float numeric = (up - down) / (2 * h);
          assertTrue(Math.abs(analytic) > 1e-6, name + " got no gradient");
          assertEquals(numeric, analytic, 0.05 * Math.abs(numeric) + 1e-4, name);
        }
      }
    }
  }

  /** Seeded inputs, so the finite-difference check sees the same numbers every run. */
  private static NDArray uniform(NDManager m, long seed, Shape shape) {
    java.util.Random r = new java.util.Random(seed);
    float[] v = new float[(int) shape.size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = r.nextFloat() * 2 - 1;
    }
    return m.create(v, shape);
  }

  private static NDArray loss(FluxAutoencoder vae, NDArray img, NDArray target) {
    return vae.decode(vae.encodeMean(img)).sub(target).square().mean();
  }

  @Test
  void patchifyOrderAndInverse() {
    try (NDManager m = NDManager.newBaseManager()) {
      // C=2, H=W=2, p=2: one token holding (row, col, channel) in that order.
      NDArray lat = m.create(new float[] {0, 1, 2, 3, 10, 11, 12, 13}, new Shape(2, 2, 2));
      NDArray tok = LatentPatchify.patchify(lat, 2);
      assertEquals(new Shape(1, 8), tok.getShape());
      assertArrayEquals(new float[] {0, 10, 1, 11, 2, 12, 3, 13}, tok.toFloatArray());

      NDArray big = m.randomNormal(new Shape(16, 6, 10));
      NDArray t = LatentPatchify.patchify(big, 2);
      assertEquals(new Shape(15, 64), t.getShape());
      assertArrayEquals(big.toFloatArray(), LatentPatchify.unpatchify(t, 3, 5, 2, 16).toFloatArray());
      // Cropping a padded latent keeps its top-left cells.
      NDArray crop = LatentPatchify.patchify(big, 2, 2, 3);
      assertArrayEquals(big.get(":, :4, :6").toFloatArray(), LatentPatchify.unpatchify(crop, 2, 3, 2, 16).toFloatArray());
    }
  }
}
