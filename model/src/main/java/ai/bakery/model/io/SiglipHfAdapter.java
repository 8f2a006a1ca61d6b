package ai.bakery.model.io;

import ai.bakery.model.config.VitConfig;
import ai.djl.ndarray.NDArray;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A HF SigLIP checkpoint ({@code vision_model.*}) under BAGEL's names ({@code vit_model.vision_model.*}), for
 * the tower as built ({@code cfg} already cut to vit_select_layer):
 * <ul>
 *   <li>the conv patch embedding (hidden, C, p, p) becomes the linear (hidden, p*p*C) in (row, col, channel)
 *       order, matching patchified pixels (the reference's convert_conv2d_to_linear);
 *   <li>encoder layers at or beyond the kept count are dropped, as are the pooling head, a text tower and the
 *       logit scale/bias of a full SigLIP checkpoint, and the learned position table when the tower uses RoPE.
 * </ul>
 */
public final class SiglipHfAdapter {
  public static final String PREFIX = "vit_model.";
  static final String PATCH = "vision_model.embeddings.patch_embedding.weight";
  private static final Pattern LAYER = Pattern.compile("^vision_model\\.encoder\\.layers\\.(\\d+)\\.");

  private SiglipHfAdapter() {}

  public static MappedTensors map(Map<String, TensorSource> hf, VitConfig cfg) {
    Map<String, TensorSource> out = new LinkedHashMap<>();
    List<String> dropped = new ArrayList<>();
    for (Map.Entry<String, TensorSource> e : hf.entrySet()) {
      String name = e.getKey();
      if (!name.startsWith("vision_model.") || name.startsWith("vision_model.head.")
          || (cfg.rope() && name.startsWith("vision_model.embeddings.position_embedding."))) {
        dropped.add(name);
        continue;
      }
      Matcher m = LAYER.matcher(name);
      if (m.find() && Integer.parseInt(m.group(1)) >= cfg.numHiddenLayers()) {
        dropped.add(name);
        continue;
      }
      String target = PREFIX + name;
      out.put(target, name.equals(PATCH) ? convToLinear(e.getValue(), target) : e.getValue().renamed(target));
    }
    return new MappedTensors(out, Set.of(), dropped);
  }

  /**
   * (out, C, p, p) conv weights as the (out, p*p*C) linear weights over (row, col, channel)-ordered patches;
   * already-linear 2-D weights pass through renamed.
   */
  public static TensorSource convToLinear(TensorSource conv, String target) {
    long[] s = conv.shape();
    if (s.length == 2) {
      return conv.renamed(target);
    }
    if (s.length != 4) {
      throw new SafetensorsException(conv.name() + ": patch embedding of shape " + Arrays.toString(s)
          + " is neither conv (out, C, p, p) nor linear (out, C*p*p)");
    }
    long[] linear = {s[0], s[1] * s[2] * s[3]};
    return conv.transformed(target, linear, (NDArray w) -> w.transpose(0, 2, 3, 1).reshape(w.getShape().get(0), -1));
  }
}
