package ai.bakery.model.bench;

import ai.bakery.model.attention.AttentionKernel;
import ai.bakery.model.attention.AttnMode;
import ai.bakery.model.attention.EagerAttention;
import ai.bakery.model.attention.NsaAttention;
import ai.bakery.model.attention.NsaConfig;
import ai.bakery.model.attention.PackLayout;
import ai.bakery.model.attention.SdpaAttention;
import ai.bakery.model.nn.Init;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Forward+backward time and peak memory of the attention kernels (eager, sdpa, nsa) over one packed sample
 * of growing length: a text prompt (causal), an image (full) and a long text continuation (causal), GQA.
 * Eager, whose dense per-sample score matrices grow with length squared, is skipped where they would pass
 * {@code memoryBudgetBytes}, and the row says so with the estimate. NSA runs block-sparse with LMMS Engine's
 * defaults, gates and compression included.
 */
public final class AttentionBench {
  private static final Logger LOG = LoggerFactory.getLogger(AttentionBench.class);
  private final int heads;
  private final int kvHeads;
  private final int headDim;
  private final long memoryBudgetBytes;

  public AttentionBench(int heads, int kvHeads, int headDim, long memoryBudgetBytes) {
    this.heads = heads;
    this.kvHeads = kvHeads;
    this.headDim = headDim;
    this.memoryBudgetBytes = memoryBudgetBytes;
  }

  public static AttentionBench defaults() {
    return new AttentionBench(8, 2, 64, 6L << 30);
  }

  public List<Map<String, Object>> run(int[] lengths, List<String> kernels) {
    Torch.init();
    List<Map<String, Object>> rows = new ArrayList<>();
    for (int len : lengths) {
      PackLayout layout = new PackLayout(new int[] {len}, new int[] {len / 8, len / 4, len - len / 8 - len / 4},
          new AttnMode[] {AttnMode.CAUSAL, AttnMode.FULL, AttnMode.CAUSAL});
      for (String kernel : kernels) {
        Map<String, Object> row = row(kernel, len, layout);
        LOG.info("attention bench: {}", row); // long runs show progress before the table
        rows.add(row);
      }
    }
    return rows;
  }

  private Map<String, Object> row(String kernel, int len, PackLayout layout) {
    Map<String, Object> row = new LinkedHashMap<>();
    row.put("kernel", kernel);
    row.put("tokens", len);
    // Eager holds (heads, len, len) fp32 scores, probabilities and their gradients (~4 copies) per sample.
    long dense = 4L * heads * len * (long) len * 4;
    if (kernel.equals("eager") && dense > memoryBudgetBytes) {
      row.put("fwd_bwd_ms", null);
      row.put("peak_mib", null);
      row.put("tflops", null);
      row.put("note", "skipped: dense scores need ~" + (dense >> 20) + " MiB > budget " + (memoryBudgetBytes >> 20)
          + " MiB");
      return row;
    }
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      Attend attend = switch (kernel) {
        case "eager" -> kernelStep(new EagerAttention(), layout);
        case "sdpa" -> kernelStep(new SdpaAttention(), layout);
        case "nsa" -> nsaStep(new NsaAttention(store, "bench.self_attn", heads * headDim, heads, kvHeads, headDim,
            NsaConfig.defaults(), Init.seeded(1), Precision.FP32), layout);
        default -> throw new IllegalArgumentException("unknown kernel '" + kernel + "' (eager, sdpa, nsa)");
      };
      long[] ms = new long[1];
      long peak = PeakMemory.measure(() -> ms[0] = step(m, attend, len));
      // Causal-masked attention: about half of the 4 * len^2 * heads * headDim forward FLOPs, x3 with backward.
      double flops = 3 * 0.5 * 4.0 * len * (double) len * heads * headDim;
      row.put("fwd_bwd_ms", ms[0]);
      row.put("peak_mib", peak < 0 ? null : peak >> 20);
      row.put("tflops", String.format("%.3f", flops / (Math.max(1, ms[0]) / 1e3) / 1e12));
      row.put("note", kernel.equals("nsa")
          ? "block-sparse, LMMS defaults (topk 16 x 64, window 512); tflops as if dense causal" : "");
    }
    return row;
  }

  /** One forward over (q, k, v, keys before RoPE, gate input). */
  private interface Attend {
    NDArray apply(NDArray q, NDArray k, NDArray v, NDArray kNoRope, NDArray hidden);
  }

  private static Attend kernelStep(AttentionKernel kernel, PackLayout layout) {
    return (q, k, v, kNoRope, hidden) -> kernel.attend(q, k, v, layout);
  }

  private static Attend nsaStep(NsaAttention nsa, PackLayout layout) {
    return (q, k, v, kNoRope, hidden) -> nsa.attend(q, k, v, kNoRope, hidden, layout);
  }

  private long step(NDManager root, Attend attend, int len) {
    try (NDManager m = root.newSubManager()) {
      NDArray q = m.randomNormal(new Shape(len, heads, headDim));
      NDArray k = m.randomNormal(new Shape(len, kvHeads, headDim));
      NDArray v = m.randomNormal(new Shape(len, kvHeads, headDim));
      NDArray hidden = m.randomNormal(new Shape(len, heads * headDim));
      for (NDArray x : new NDArray[] {q, k, v}) {
        x.setRequiresGradient(true);
      }
      long t0 = System.nanoTime();
      try (GradientCollector gc = Torch.init().newGradientCollector()) {
        gc.backward(attend.apply(q, k, v, k, hidden).sum());
      }
      return (System.nanoTime() - t0) / 1_000_000;
    }
  }
}
