package ai.bakery.model.io;

import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Torch;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

/**
 * The reference's copy_init_moe: a Mixture-of-Transformers model starts its generation weights
 * ({@code *_moe_gen*}) as copies of the understanding weights they shadow (the name without
 * {@code _moe_gen}), so a plain Qwen2 checkpoint initialises both branches.
 */
public final class MoeInit {
  public static final String GEN = "_moe_gen";

  private MoeInit() {}

  /** Copies every loaded und weight into its gen twin in the store; returns how many were copied. */
  public static int copyUndToGen(ParameterStore store) {
    Torch.init();
    int n = 0;
    for (Parameter p : store.all().values()) {
      if (!p.name().contains(GEN)) {
        continue;
      }
      String und = p.name().replace(GEN, "");
      if (!store.contains(und)) {
        throw new IllegalStateException(p.name() + " has no understanding twin " + und + " to copy from");
      }
      try (NoGradGuard g = new NoGradGuard(); Tensor dst = Torch.view(p.value()).detach()) {
        dst.copy_(Torch.view(store.get(und).value()));
      }
      n++;
    }
    return n;
  }

  /**
   * The same at mapping time: adds each gen name the store has but the checkpoint lacks, sourced from its und
   * tensor, so one streaming load fills both branches.
   */
  public static MappedTensors withGenCopies(MappedTensors source, ParameterStore store) {
    return withGenCopies(source, store.all().keySet());
  }

  /** The same for a model whose parameter names are {@code names} (a sharded rank's). */
  public static MappedTensors withGenCopies(MappedTensors source, Collection<String> names) {
    Map<String, TensorSource> out = new LinkedHashMap<>(source.tensors());
    for (String name : names) {
      if (name.contains(GEN) && !out.containsKey(name)) {
        TensorSource und = source.tensors().get(name.replace(GEN, ""));
        if (und != null) {
          out.put(name, und.renamed(name));
        }
      }
    }
    return new MappedTensors(out, source.optional(), source.dropped());
  }
}
