package ai.bakery.model.io;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A checkpoint seen under the model's own parameter names, as an adapter produced it: {@code tensors} by target
 * name; {@code optional} names that load only if the model has them (e.g. lm_head filled from tied
 * embeddings); {@code dropped} source names the adapter deliberately left out (with the reason in the name
 * list's order, for the load report).
 */
public record MappedTensors(Map<String, TensorSource> tensors, Set<String> optional, List<String> dropped) {
  public MappedTensors {
    tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
    optional = Collections.unmodifiableSet(new LinkedHashSet<>(optional));
    dropped = List.copyOf(dropped);
  }

  /** The tensors as they are, nothing renamed or dropped. */
  public static MappedTensors identity(Map<String, TensorSource> tensors) {
    return new MappedTensors(tensors, Set.of(), List.of());
  }
}
