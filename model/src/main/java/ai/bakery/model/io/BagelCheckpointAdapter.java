package ai.bakery.model.io;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A whole BAGEL checkpoint, split into the part for the BAGEL model and the part for its VAE.
 * <ul>
 *   <li><b>Original layout</b> ({@code ema.safetensors} / {@code model.safetensors} of the reference): keys are
 *       the model's own ({@code language_model.*}, {@code vit_model.*}, {@code connector.*},
 *       {@code time_embedder.*}, {@code vae2llm.*}, {@code llm2vae.*}, the fixed pos_embed tables); the VAE is
 *       a separate {@code ae.safetensors}.
 *   <li><b>HF-converted layout</b> (LMMS Engine, e.g. lmms-lab/BAGEL-7B-MoT-ver.LE, sharded
 *       {@code model-*.safetensors} with an index): the same keys, plus the VAE inside the model as
 *       {@code vae_model.encoder.*} / {@code vae_model.decoder.*}.
 * </ul>
 * A patch embedding still in conv form is turned into the linear form either way.
 */
public final class BagelCheckpointAdapter {
  public static final String VAE_PREFIX = "vae_model.";
  private static final String PATCH = "vit_model." + SiglipHfAdapter.PATCH;

  private BagelCheckpointAdapter() {}

  /** The tensors for the BAGEL model (everything but {@code vae_model.*}). */
  public static MappedTensors model(Map<String, TensorSource> ckpt) {
    Map<String, TensorSource> out = new LinkedHashMap<>();
    for (Map.Entry<String, TensorSource> e : ckpt.entrySet()) {
      String name = e.getKey();
      if (name.startsWith(VAE_PREFIX)) {
        continue;
      }
      out.put(name, name.equals(PATCH) ? SiglipHfAdapter.convToLinear(e.getValue(), name) : e.getValue());
    }
    return new MappedTensors(out, Set.of(), List.of());
  }

  /** Whether the checkpoint carries the VAE itself (the HF-converted layout). */
  public static boolean hasVae(Map<String, TensorSource> ckpt) {
    return ckpt.keySet().stream().anyMatch(n -> n.startsWith(VAE_PREFIX));
  }

  /** The embedded VAE's tensors under FLUX names with {@code prefix} ("" for FLUX's own names). */
  public static MappedTensors vae(Map<String, TensorSource> ckpt, String prefix) {
    Map<String, TensorSource> ae = new LinkedHashMap<>();
    for (Map.Entry<String, TensorSource> e : ckpt.entrySet()) {
      if (e.getKey().startsWith(VAE_PREFIX)) {
        String flux = e.getKey().substring(VAE_PREFIX.length());
        ae.put(flux, e.getValue().renamed(flux));
      }
    }
    return FluxAeAdapter.map(ae, prefix);
  }
}
