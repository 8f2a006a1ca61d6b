package ai.bakery.model.io;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** FLUX's {@code ae.safetensors} ({@code encoder.*}, {@code decoder.*}) under the VAE store's prefix. */
public final class FluxAeAdapter {
  private FluxAeAdapter() {}

  /** @param prefix the VAE's name prefix in the store, "" for FLUX's own names */
  public static MappedTensors map(Map<String, TensorSource> ae, String prefix) {
    Map<String, TensorSource> out = new LinkedHashMap<>();
    List<String> dropped = new ArrayList<>();
    for (Map.Entry<String, TensorSource> e : ae.entrySet()) {
      String name = e.getKey();
      if (name.startsWith("encoder.") || name.startsWith("decoder.")) {
        String target = prefix.isEmpty() ? name : prefix + "." + name;
        out.put(target, e.getValue().renamed(target));
      } else {
        out.put(name, e.getValue());
      }
    }
    return new MappedTensors(out, Set.of(), dropped);
  }
}
