package ai.bakery.model.attention;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Attention from composed ops, one sample at a time: scores and softmax in (at least) fp32 under that sample's
 * split mask. Memory is O(heads * len^2) per sample, never for the whole pack. The reference of correctness
 * for the fused kernels.
 *
 * <p>If the layout's samples sum to more than the pack (the reference pads flex-attention packs with a
 * trailing padding sample), samples that start at or after the end are padding and are skipped.
 */
public final class EagerAttention implements AttentionKernel {

  /**
   * Which keys each query of one sample may see, as the reference's {@code create_sparse_mask} (and the
   * equivalent nested per-sample masks) define it. With split ids local to the sample, query q sees key k iff
   * <ul>
   *   <li>k precedes or is q ({@code k <= q}), or both lie in the same FULL or NOISE split; and
   *   <li>k is not in a NOISE split other than q's own: noised latents are hidden from every other split.
   * </ul>
   * So a CAUSAL split sees everything visible before it plus its own past; a FULL split sees itself whole plus
   * what is visible before it; a NOISE split the same, while nothing else sees it.
   *
   * @param splitLens token counts of the sample's splits, in order
   * @param modes the attention mode of each split
   * @return mask[q][k], true where attention is allowed; the diagonal is always true
   */
  public static boolean[][] sampleMask(int[] splitLens, AttnMode[] modes) {
    if (splitLens.length != modes.length) {
      throw new IllegalArgumentException(splitLens.length + " split lengths but " + modes.length + " modes");
    }
    int n = 0;
    for (int len : splitLens) {
      if (len <= 0) {
        throw new IllegalArgumentException("split length must be > 0, got " + len);
      }
      n += len;
    }
    int[] split = new int[n];
    for (int s = 0, t = 0; s < splitLens.length; s++) {
      for (int i = 0; i < splitLens[s]; i++) {
        split[t++] = s;
      }
    }
    boolean[][] mask = new boolean[n][n];
    for (int q = 0; q < n; q++) {
      int sq = split[q];
      boolean qBlock = modes[sq] != AttnMode.CAUSAL;
      for (int k = 0; k < n; k++) {
        int sk = split[k];
        boolean visible = k <= q || (qBlock && sq == sk);
        boolean hiddenNoise = modes[sk] == AttnMode.NOISE && sk != sq;
        mask[q][k] = visible && !hiddenNoise;
      }
    }
    return mask;
  }

  @Override
  public NDArray attend(NDArray q, NDArray k, NDArray v, PackLayout layout) {
    Shape qs = q.getShape();
    long total = qs.get(0);
    int hq = (int) qs.get(1);
    int hkv = (int) k.getShape().get(1);
    int d = (int) qs.get(2);
    if (hq % hkv != 0) {
      throw new IllegalArgumentException("query heads " + hq + " not a multiple of key/value heads " + hkv);
    }
    int group = hq / hkv;
    double scale = 1.0 / Math.sqrt(d);
    NDManager m = q.getManager();
    NDList outs = new NDList();
    int splitCursor = 0;
    long start = 0;
    int[] sampleLens = layout.sampleLens();
    for (int s = 0; s < sampleLens.length; s++) {
      int len = sampleLens[s];
      int nSplits = splitsOf(layout, splitCursor, len);
      if (start >= total) {
        break; // trailing padding samples
      }
      if (start + len > total) {
        throw new IllegalArgumentException("sample " + s + " spans [" + start + ", " + (start + len)
            + ") past the pack's " + total + " tokens");
      }
      int[] lens = java.util.Arrays.copyOfRange(layout.splitLens(), splitCursor, splitCursor + nSplits);
      AttnMode[] modes = java.util.Arrays.copyOfRange(layout.modes(), splitCursor, splitCursor + nSplits);
      NDIndex rows = new NDIndex("{}:{}", start, start + len);
      outs.add(attendSample(q.get(rows), k.get(rows), v.get(rows), group, scale, additiveMask(m, lens, modes)));
      splitCursor += nSplits;
      start += len;
    }
    if (start < total) {
      throw new IllegalArgumentException("layout covers " + start + " tokens but the pack has " + total);
    }
    return outs.size() == 1 ? outs.get(0) : NDArrays.concat(outs, 0);
  }

  /** (L, Hq, D) x (L, Hkv, D) -> (L, Hq, D) for one sample. */
  private static NDArray attendSample(NDArray q, NDArray k, NDArray v, int group, double scale, NDArray mask) {
    DataType compute = q.getDataType() == DataType.FLOAT64 ? DataType.FLOAT64 : DataType.FLOAT32;
    NDArray qh = toCompute(q, compute).transpose(1, 0, 2); // (Hq, L, D)
    NDArray kh = repeatHeads(toCompute(k, compute), group).transpose(1, 2, 0); // (Hq, D, L)
    NDArray vh = repeatHeads(toCompute(v, compute), group).transpose(1, 0, 2); // (Hq, L, D)
    NDArray scores = qh.batchMatMul(kh).mul(scale).add(mask.toType(compute, false)); // (Hq, L, L)
    NDArray probs = scores.softmax(-1);
    return probs.batchMatMul(vh).transpose(1, 0, 2); // (L, Hq, D)
  }

  /** DJL's toType on a bf16 array (a type DJL cannot name) drops autograd history: cast through libtorch. */
  private static NDArray toCompute(NDArray x, DataType compute) {
    return compute == DataType.FLOAT32
        ? ai.bakery.model.tensor.BF16Precision.cast(x, org.bytedeco.pytorch.global.torch.ScalarType.Float)
        : x.toType(compute, false);
  }

  /** (L, Hkv, D) -> (L, Hkv * group, D), query head h reading key/value head h / group (HF repeat_kv). */
  static NDArray repeatHeads(NDArray x, int group) {
    return group == 1 ? x : x.repeat(1, group);
  }

  private static NDArray additiveMask(NDManager m, int[] lens, AttnMode[] modes) {
    boolean[][] allowed = sampleMask(lens, modes);
    int n = allowed.length;
    float[] add = new float[n * n];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < n; j++) {
        add[i * n + j] = allowed[i][j] ? 0f : Float.NEGATIVE_INFINITY;
      }
    }
    return m.create(add, new Shape(n, n));
  }

  /** How many splits, from {@code first}, make up a sample of {@code len} tokens. */
  private static int splitsOf(PackLayout layout, int first, int len) {
    int sum = 0;
    int i = first;
    while (sum < len) {
      if (i >= layout.splitLens().length) {
        throw new IllegalArgumentException("split_lens end before sample_lens do");
      }
      sum += layout.splitLens()[i++];
    }
    if (sum != len) {
      throw new IllegalArgumentException("splits from " + first + " sum to " + sum + ", not the sample's " + len);
    }
    return i - first;
  }
}
