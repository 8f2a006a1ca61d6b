package ai.bakery.model.vae;

import ai.bakery.model.config.VaeConfig;
import ai.bakery.model.nn.Activations;
import ai.bakery.model.nn.Conv2d;
import ai.bakery.model.nn.GroupNorm;
import ai.bakery.model.nn.Init;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * Pixels (B, in_channels, H, W) to Gaussian moments (B, 2*z_channels, H/d, W/d): conv_in, per level
 * num_res_blocks ResnetBlocks and a stride-2 downsample (all levels but the last), mid block, norm, conv_out.
 */
final class Encoder {
  private final Conv2d convIn;
  private final List<List<ResnetBlock>> blocks = new ArrayList<>();
  private final List<Conv2d> downsamples = new ArrayList<>();
  private final ResnetBlock mid1;
  private final AttnBlock midAttn;
  private final ResnetBlock mid2;
  private final GroupNorm normOut;
  private final Conv2d convOut;

  Encoder(VaeConfig cfg, ParameterStore store, String prefix, Init init, Precision precision) {
    int ch = cfg.ch();
    convIn = new Conv2d(store, prefix + ".conv_in", cfg.inChannels(), ch, 3, 1, 1, init, precision);
    int blockIn = ch;
    for (int level = 0; level < cfg.numLevels(); level++) {
      blockIn = ch * (level == 0 ? 1 : cfg.chMult().get(level - 1));
      int blockOut = ch * cfg.chMult().get(level);
      List<ResnetBlock> lb = new ArrayList<>();
      for (int i = 0; i < cfg.numResBlocks(); i++) {
        lb.add(new ResnetBlock(store, prefix + ".down." + level + ".block." + i, blockIn, blockOut, init, precision));
        blockIn = blockOut;
      }
      blocks.add(lb);
      if (level != cfg.numLevels() - 1) {
        // No asymmetric padding in conv: pad right/bottom by one, then a valid stride-2 conv.
        downsamples.add(new Conv2d(store, prefix + ".down." + level + ".downsample.conv", blockIn, blockIn, 3, 2, 0,
            init, precision));
      }
    }
    mid1 = new ResnetBlock(store, prefix + ".mid.block_1", blockIn, blockIn, init, precision);
    midAttn = new AttnBlock(store, prefix + ".mid.attn_1", blockIn, init, precision);
    mid2 = new ResnetBlock(store, prefix + ".mid.block_2", blockIn, blockIn, init, precision);
    normOut = new GroupNorm(store, prefix + ".norm_out", VaeConfig.NORM_GROUPS, blockIn, ResnetBlock.EPS, precision);
    convOut = new Conv2d(store, prefix + ".conv_out", blockIn, 2 * cfg.zChannels(), 3, 1, 1, init, precision);
  }

  NDArray forward(NDArray x) {
    NDArray h = convIn.forward(x);
    for (int level = 0; level < blocks.size(); level++) {
      for (ResnetBlock b : blocks.get(level)) {
        h = b.forward(h);
      }
      if (level < downsamples.size()) {
        h = downsamples.get(level).forward(padRightBottom(h));
      }
    }
    h = mid2.forward(midAttn.forward(mid1.forward(h)));
    return convOut.forward(Activations.silu(normOut.forward(h)));
  }

  private static NDArray padRightBottom(NDArray x) {
    Tensor padded = torch.constant_pad_nd(Torch.view(x), 0, 1, 0, 1);
    return Torch.adopt(padded, x.getManager());
  }
}
