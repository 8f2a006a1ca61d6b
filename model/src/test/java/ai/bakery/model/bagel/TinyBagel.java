package ai.bakery.model.bagel;

import ai.bakery.model.config.BagelConfig;
import ai.bakery.model.config.LayerModule;
import ai.bakery.model.config.LlmConfig;
import ai.bakery.model.config.VaeConfig;
import ai.bakery.model.config.VitConfig;
import ai.djl.ndarray.NDManager;
import java.util.List;

/** A BAGEL small enough for CPU tests, and the mixed pack the tests share. */
final class TinyBagel {
  static final int VOCAB = 64;

  private TinyBagel() {}

  static BagelConfig config(double timestepShift) {
    LlmConfig llm = new LlmConfig(32, 64, 2, 4, 2, 1e-6, 10000.0, VOCAB, 256, false, "silu", 0.02, true,
        LayerModule.QWEN2_MOT, false);
    VitConfig vit = new VitConfig(16, 32, 2, 2, 3, 56, 14, "gelu_pytorch_tanh", 1e-6, 0.0, false); // 4 x 4 patches
    VaeConfig vae = new VaeConfig(64, 3, 32, 3, List.of(1, 2), 1, 4, 0.3611, 0.1159); // z 4 -> 16 per token
    return new BagelConfig(true, true, llm, vit, vae, 2, 8, 4, -2, "gelu_pytorch_tanh", false, timestepShift, true);
  }

  static PackBuilder builder(long seed) {
    return new PackBuilder(4, 2, 8, 3 * 14 * 14, 4, seed);
  }

  /**
   * Three samples: text-to-image (caption, then a noised image), an edit (clean source image as VAE and ViT
   * condition, instruction, noised target) and a VLM conversation (image, question, answer with loss).
   */
  static PackBuilder mixedPack(long seed) {
    return builder(seed)
        .sample().text(false, 5, 6, 7).vae(2, 2, 0.3f)
        .sample().vae(2, 3, null).vit(2, 2).text(false, 8, 9).vae(2, 2, -0.5f)
        .sample().vit(2, 3).text(false, 10, 11, 12).text(true, 13, 14, 15, 16);
  }

  static BagelInputs mixed(NDManager m, long seed) {
    return mixedPack(seed).build(m);
  }
}
