package ai.bakery.model.vae;

import ai.bakery.model.config.VaeConfig;
import ai.bakery.model.nn.Activations;
import ai.bakery.model.nn.Conv2d;
import ai.bakery.model.nn.GroupNorm;
import ai.bakery.model.nn.Init;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;

/**
 * Latents (B, z_channels, h, w) to pixels (B, out_ch, h*d, w*d): conv_in, mid block, then levels from the
 * deepest up, each num_res_blocks+1 ResnetBlocks and a nearest x2 upsample + conv (all levels but level 0).
 * Levels are stored under their own index ({@code up.3} is the deepest), as the reference's prepend does.
 */
final class Decoder {
  private final Conv2d convIn;
  private final ResnetBlock mid1;
  private final AttnBlock midAttn;
  private final ResnetBlock mid2;
  private final List<List<ResnetBlock>> blocks = new ArrayList<>(); // deepest level first
  private final List<Conv2d> upsamples = new ArrayList<>(); // null for level 0
  private final GroupNorm normOut;
  private final Conv2d convOut;

  Decoder(VaeConfig cfg, ParameterStore store, String prefix, Init init, Precision precision) {
    int ch = cfg.ch();
    int levels = cfg.numLevels();
    int blockIn = ch * cfg.chMult().get(levels - 1);
    convIn = new Conv2d(store, prefix + ".conv_in", cfg.zChannels(), blockIn, 3, 1, 1, init, precision);
    mid1 = new ResnetBlock(store, prefix + ".mid.block_1", blockIn, blockIn, init, precision);
    midAttn = new AttnBlock(store, prefix + ".mid.attn_1", blockIn, init, precision);
    mid2 = new ResnetBlock(store, prefix + ".mid.block_2", blockIn, blockIn, init, precision);
    for (int level = levels - 1; level >= 0; level--) {
      int blockOut = ch * cfg.chMult().get(level);
      List<ResnetBlock> lb = new ArrayList<>();
      for (int i = 0; i < cfg.numResBlocks() + 1; i++) {
        lb.add(new ResnetBlock(store, prefix + ".up." + level + ".block." + i, blockIn, blockOut, init, precision));
        blockIn = blockOut;
      }
      blocks.add(lb);
      upsamples.add(level != 0
          ? new Conv2d(store, prefix + ".up." + level + ".upsample.conv", blockIn, blockIn, 3, 1, 1, init, precision)
          : null);
    }
    normOut = new GroupNorm(store, prefix + ".norm_out", VaeConfig.NORM_GROUPS, blockIn, ResnetBlock.EPS, precision);
    convOut = new Conv2d(store, prefix + ".conv_out", blockIn, cfg.outCh(), 3, 1, 1, init, precision);
  }

  NDArray forward(NDArray z) {
    NDArray h = mid2.forward(midAttn.forward(mid1.forward(convIn.forward(z))));
    for (int i = 0; i < blocks.size(); i++) {
      for (ResnetBlock b : blocks.get(i)) {
        h = b.forward(h);
      }
      if (upsamples.get(i) != null) {
        h = upsamples.get(i).forward(nearest2x(h));
      }
    }
    return convOut.forward(Activations.silu(normOut.forward(h)));
  }

  /** Nearest-neighbour x2: every pixel becomes a 2x2 block. */
  private static NDArray nearest2x(NDArray x) {
    long[] s = x.getShape().getShape();
    return x.reshape(s[0], s[1], s[2], 1, s[3], 1)
        .broadcast(new Shape(s[0], s[1], s[2], 2, s[3], 2))
        .reshape(s[0], s[1], s[2] * 2, s[3] * 2);
  }
}
