package ai.bakery.model.io;

import ai.bakery.model.tensor.ParameterStore;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Copies a checkpoint into a {@link ParameterStore} by name, one tensor at a time (each loaded, copied into the
 * parameter in place, and freed), after checking the whole mapping first: a load that fails changes nothing.
 *
 * <p>Strict (the default) fails on any missing or unexpected name, listing them, with a "renamed?" hint pairing
 * a missing name with an unexpected one of the same shape; non-strict loads what matches and reports the rest.
 * A shape mismatch fails in both modes. The fixed 2-D sin-cos tables ({@code latent_pos_embed.pos_embed},
 * {@code vit_pos_embed.pos_embed}) are skipped on both sides, as the reference pops them before loading.
 */
public final class StateDictLoader {
  private static final Logger LOG = LoggerFactory.getLogger(StateDictLoader.class);

  /** The reference's fixed sin-cos position tables: recomputed, never loaded. */
  public static final Predicate<String> FIXED_POS_EMBED =
      n -> n.equals("latent_pos_embed.pos_embed") || n.equals("vit_pos_embed.pos_embed");

  private final boolean strict;
  private final Predicate<String> skip;
  private final Predicate<String> only;

  private StateDictLoader(boolean strict, Predicate<String> skip, Predicate<String> only) {
    this.strict = strict;
    this.skip = skip;
    this.only = only;
  }

  public static StateDictLoader strict() {
    return new StateDictLoader(true, FIXED_POS_EMBED, n -> true);
  }

  public static StateDictLoader nonStrict() {
    return new StateDictLoader(false, FIXED_POS_EMBED, n -> true);
  }

  /** Also ignores names (on both sides) matching {@code more}. */
  public StateDictLoader skipping(Predicate<String> more) {
    return new StateDictLoader(strict, skip.or(more), only);
  }

  /**
   * Loads only the model parameters {@code targets} accepts (a worker's shard); other model parameters are
   * neither loaded nor missing, and source tensors for them are not unexpected.
   */
  public StateDictLoader only(Predicate<String> targets) {
    return new StateDictLoader(strict, skip, only.and(targets));
  }

  public LoadReport load(Map<String, TensorSource> source, ParameterStore store) {
    return load(MappedTensors.identity(source), store);
  }

  public LoadReport load(MappedTensors source, ParameterStore store) {
    List<String> planned = new ArrayList<>();
    List<String> unexpected = new ArrayList<>();
    List<String> skipped = new ArrayList<>(source.dropped());
    List<String> mismatched = new ArrayList<>();
    for (Map.Entry<String, TensorSource> e : source.tensors().entrySet()) {
      String name = e.getKey();
      if (skip.test(name)) {
        skipped.add(name);
      } else if (store.contains(name)) {
        if (!only.test(name)) {
          continue;
        }
        TensorSource t = e.getValue();
        long[] want = store.get(name).value().getShape().getShape();
        if (!Arrays.equals(want, t.shape())) {
          mismatched.add(name + ": checkpoint " + Arrays.toString(t.shape()) + " (from " + t.name() + "), model "
              + Arrays.toString(want));
        } else if (!t.dtype().floating()) {
          mismatched.add(name + ": checkpoint holds " + t.dtype() + " data, the model a float parameter");
        } else {
          planned.add(name);
        }
      } else if (!source.optional().contains(name)) {
        unexpected.add(name);
      }
    }
    Set<String> have = new LinkedHashSet<>(planned);
    List<String> missing = new ArrayList<>();
    for (String name : store.all().keySet()) {
      if (!have.contains(name) && !skip.test(name) && only.test(name) && !isMismatched(mismatched, name)) {
        missing.add(name);
      }
    }
    LoadReport report = new LoadReport(planned, missing, unexpected, skipped);
    if (!mismatched.isEmpty()) {
      throw new StateDictException("shape mismatch for " + mismatched.size() + " tensor(s): "
          + String.join("; ", mismatched.subList(0, Math.min(10, mismatched.size()))), report);
    }
    if (strict && !report.clean()) {
      throw new StateDictException("checkpoint does not match the model: " + missing.size() + " missing"
          + sample(missing) + ", " + unexpected.size() + " unexpected" + sample(unexpected)
          + renameHints(missing, unexpected, source, store), report);
    }
    copy(source, store, planned);
    if (!report.clean()) {
      LOG.warn("non-strict load: {}", report);
    }
    return report;
  }

  private static boolean isMismatched(List<String> mismatched, String name) {
    for (String m : mismatched) {
      if (m.startsWith(name + ":")) {
        return true;
      }
    }
    return false;
  }

  private static void copy(MappedTensors source, ParameterStore store, List<String> names) {
    for (String name : names) {
      // Streams from the file straight into the parameter: no second full-size copy of big tensors.
      source.tensors().get(name).copyInto(store.get(name).value());
    }
  }

  /** Pairs each missing name with an unexpected name of the same shape and the longest shared suffix. */
  private static String renameHints(List<String> missing, List<String> unexpected, MappedTensors source,
      ParameterStore store) {
    StringBuilder sb = new StringBuilder();
    int shown = 0;
    for (String m : missing) {
      long[] shape = store.get(m).value().getShape().getShape();
      String best = null;
      int bestScore = 0;
      for (String u : unexpected) {
        if (!Arrays.equals(shape, source.tensors().get(u).shape())) {
          continue;
        }
        int score = sharedSuffix(m, u);
        if (score > bestScore) {
          best = u;
          bestScore = score;
        }
      }
      if (best != null && bestScore > 0) {
        sb.append(shown == 0 ? "; renamed? " : ", ").append(best).append(" -> ").append(m);
        if (++shown == 5) {
          break;
        }
      }
    }
    return sb.toString();
  }

  private static int sharedSuffix(String a, String b) {
    int n = 0;
    while (n < a.length() && n < b.length() && a.charAt(a.length() - 1 - n) == b.charAt(b.length() - 1 - n)) {
      n++;
    }
    return n;
  }

  static String sample(List<String> names) {
    if (names.isEmpty()) {
      return "";
    }
    int k = Math.min(8, names.size());
    return " [" + String.join(", ", names.subList(0, k)) + (names.size() > k ? ", ..." : "") + "]";
  }
}
