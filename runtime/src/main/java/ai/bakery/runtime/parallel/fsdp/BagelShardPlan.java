package ai.bakery.runtime.parallel.fsdp;

import ai.bakery.model.bagel.Bagel;
import java.util.ArrayList;
import java.util.List;

/**
 * BAGEL's FSDP units, as the reference wraps its modules: one per ViT encoder layer, the connector, one per
 * decoder layer; everything else (embeddings, lm_head, norms, time embedder, vae2llm/llm2vae, position
 * embeddings, the ViT's patch embedding and post-norm) is the root unit. The chains follow Bagel's forward:
 * the ViT layers and the connector when the pack has ViT tokens, then the decoder layers.
 */
public final class BagelShardPlan {
  private BagelShardPlan() {}

  public static List<SegmentChain> chains(Bagel bagel) {
    List<SegmentChain> out = new ArrayList<>();
    if (bagel.vitModel() != null) {
      List<String> vit = new ArrayList<>();
      for (int i = 0; i < bagel.vitModel().numLayers(); i++) {
        vit.add("vit_model.vision_model.encoder.layers." + i + ".");
      }
      out.add(new SegmentChain("vit", vit, BagelShardPlan::hasVit));
      out.add(new SegmentChain("connector", List.of("connector."), BagelShardPlan::hasVit));
    }
    List<String> llm = new ArrayList<>();
    for (int i = 0; i < bagel.config().llm().numHiddenLayers(); i++) {
      llm.add(bagel.languageModel().prefix() + ".model.layers." + i + ".");
    }
    out.add(new SegmentChain("llm", llm, b -> true));
    return out;
  }

  /** Every unit prefix of {@code chains}, in run order. */
  public static List<String> unitPrefixes(List<SegmentChain> chains) {
    List<String> out = new ArrayList<>();
    for (SegmentChain c : chains) {
      out.addAll(c.unitPrefixes());
    }
    return out;
  }

  private static boolean hasVit(ai.bakery.data.pack.PackedBatch b) {
    return b.packedVitTokens() != null && b.packedVitTokens().length > 0;
  }
}
