package ai.bakery.model.attention;

import ai.djl.ndarray.NDArray;

/**
 * The score-softmax-value core of attention over one packed sequence, after projections, QK-norm and RoPE.
 * Implementations: eager (composed ops), sdpa (fused, per sample), nsa (native sparse attention).
 */
public interface AttentionKernel {
  /**
   * @param q (T, Hq, D) queries of the whole pack
   * @param k (T, Hkv, D) keys; Hq is a multiple of Hkv (GQA)
   * @param v (T, Hkv, D) values
   * @return (T, Hq, D); row t attends only where the split modes of {@code layout} allow, within its sample
   */
  NDArray attend(NDArray q, NDArray k, NDArray v, PackLayout layout);
}
