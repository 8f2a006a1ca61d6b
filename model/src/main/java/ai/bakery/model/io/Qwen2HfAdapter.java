package ai.bakery.model.io;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A HF Qwen2 checkpoint ({@code model.*}, {@code lm_head.weight}) under BAGEL's names
 * ({@code language_model.model.*}, {@code language_model.lm_head.weight}). A checkpoint of a tied model has no
 * lm_head: then the embedding also fills {@code language_model.lm_head.weight} where the model has one.
 * Rotary frequency buffers some old checkpoints carry are dropped (recomputed).
 */
public final class Qwen2HfAdapter {
  public static final String PREFIX = "language_model.";
  /** BAGEL's names of the token tables: one row per token. */
  public static final String EMBED = PREFIX + "model.embed_tokens.weight";
  public static final String HEAD = PREFIX + "lm_head.weight";

  private Qwen2HfAdapter() {}

  public static MappedTensors map(Map<String, TensorSource> hf) {
    Map<String, TensorSource> out = new LinkedHashMap<>();
    List<String> dropped = new ArrayList<>();
    for (Map.Entry<String, TensorSource> e : hf.entrySet()) {
      String name = e.getKey();
      if (name.endsWith(".rotary_emb.inv_freq")) {
        dropped.add(name);
      } else if (name.startsWith("model.") || name.equals("lm_head.weight")) {
        out.put(PREFIX + name, e.getValue().renamed(PREFIX + name));
      } else {
        out.put(name, e.getValue()); // left as is: the loader reports it as unexpected
      }
    }
    String head = PREFIX + "lm_head.weight";
    TensorSource embed = hf.get("model.embed_tokens.weight");
    if (!hf.containsKey("lm_head.weight") && embed != null) {
      out.put(head, embed.renamed(head));
      return new MappedTensors(out, Set.of(head), dropped);
    }
    return new MappedTensors(out, Set.of(), dropped);
  }
}
