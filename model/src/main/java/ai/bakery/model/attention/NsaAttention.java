package ai.bakery.model.attention;

import ai.bakery.model.nn.Init;
import ai.bakery.model.nn.Linear;
import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.bakery.model.tensor.ScalarTypes;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.LayoutOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.T_TensorTensor_T;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRef;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Native Sparse Attention (LMMS Engine's {@code patch_type: [nsa]}) for one decoder layer, with BAGEL's split
 * semantics kept. Three branches per query, mixed by sigmoid gates from {@code g_proj} (hidden -> heads * 3,
 * gate order compressed, selected, sliding):
 * <ul>
 *   <li>compressed: windows of {@code kernel_size} keys/values every {@code kernel_stride} tokens pooled into
 *       one (weightedpool: per-kv-head weights over the window; linear: a per-head (kernel_size*D, D)
 *       projection; avgpool: the mean); query i sees compressed block j iff i >= j*stride + kernel_size - 1;
 *   <li>selected: the compressed probabilities, summed over each GQA group, score blocks of {@code block_size}
 *       keys (a compressed block counts once per stride chunk it shares with the block; the trailing partial
 *       block scores 0); the {@code init_blocks} first and {@code local_blocks} nearest blocks are forced, then
 *       the {@code topk} best (forced ones included) get exact causal attention; the query's own block is
 *       always kept so no row is empty;
 *   <li>sliding: exact attention over keys i - window_size .. i.
 * </ul>
 *
 * <p>Split semantics (where LMMS Engine forces everything causal): rows of FULL and NOISE splits (ViT and VAE
 * tokens) attend exactly over their visible set, as {@link SdpaAttention}. Rows of CAUSAL splits (text) see
 * exactly the earlier non-noise tokens of their sample, so the three branches run causally over that
 * compacted sequence (the sample minus its noise tokens), and only the causal rows take the sparse result.
 *
 * <p>Parameters, under the layer's {@code self_attn} prefix: {@code g_proj.weight} (Hq*3, hidden), and for
 * weightedpool {@code compress_key.weight} / {@code compress_value.weight} (Hkv, kernel_size) initialised to
 * 1/kernel_size, for linear the same names with shape (Hkv, kernel_size*D, D) initialised to the window mean.
 * The branches are computed densely with masks (O(len^2) per sample): this is the exact semantics, not a
 * block-sparse kernel.
 */
public final class NsaAttention implements AttentionKernel {
  private final NsaConfig cfg;
  private final int heads;
  private final int kvHeads;
  private final int headDim;
  private final Linear gProj;
  private final Parameter compressKey;
  private final Parameter compressValue;
  private final SdpaAttention exact = new SdpaAttention();
  private NDArray gateInput;

  public NsaAttention(ParameterStore store, String prefix, int hidden, int heads, int kvHeads, int headDim,
      NsaConfig cfg, Init init, Precision precision) {
    if (heads % kvHeads != 0) {
      throw new IllegalArgumentException(prefix + ": heads " + heads + " not a multiple of kv heads " + kvHeads);
    }
    this.cfg = cfg;
    this.heads = heads;
    this.kvHeads = kvHeads;
    this.headDim = headDim;
    gProj = new Linear(store, prefix + ".g_proj", hidden, heads * 3, false, init, precision);
    int ks = cfg.kernelSize();
    switch (cfg.compression()) {
      case WEIGHTEDPOOL -> {
        Shape s = new Shape(kvHeads, ks);
        compressKey = store.create(prefix + ".compress_key.weight", s, Init.constant(s, 1f / ks));
        compressValue = store.create(prefix + ".compress_value.weight", s, Init.constant(s, 1f / ks));
      }
      case LINEAR -> {
        Shape s = new Shape(kvHeads, (long) ks * headDim, headDim);
        compressKey = store.create(prefix + ".compress_key.weight", s, m -> meanProjection(m, s, ks, headDim));
        compressValue = store.create(prefix + ".compress_value.weight", s, m -> meanProjection(m, s, ks, headDim));
      }
      default -> {
        compressKey = null;
        compressValue = null;
      }
    }
  }

  private static NDArray meanProjection(ai.djl.ndarray.NDManager m, Shape s, int ks, int d) {
    int heads = (int) s.get(0);
    float[] w = new float[heads * ks * d * d];
    for (int h = 0; h < heads; h++) {
      for (int t = 0; t < ks; t++) {
        for (int i = 0; i < d; i++) {
          w[((h * ks + t) * d + i) * d + i] = 1f / ks; // window position t, input dim i -> output dim i
        }
      }
    }
    return m.create(w, s);
  }

  /** The layer's normed hidden states (T, hidden) feeding the gates of the next {@link #attend} call. */
  public void setGateInput(NDArray hidden) {
    this.gateInput = hidden;
  }

  public Linear gProj() {
    return gProj;
  }

  @Override
  public NDArray attend(NDArray q, NDArray k, NDArray v, PackLayout layout) {
    NDArray hidden = gateInput;
    gateInput = null;
    if (hidden == null) {
      throw new IllegalStateException("NSA needs the layer's hidden states for its gates: call setGateInput first");
    }
    NDArray dense = exact.attend(q, k, v, layout); // FULL/NOISE rows keep this
    NDArray gates = gProj.forward(hidden); // (T, Hq*3)
    try (PointerScope scope = new PointerScope()) {
      Tensor g = Torch.view(gates).to(ScalarType.Float).sigmoid().reshape(-1, heads, 3);
      Tensor tq = Torch.view(q).to(ScalarType.Float);
      Tensor tk = Torch.view(k).to(ScalarType.Float);
      Tensor tv = Torch.view(v).to(ScalarType.Float);
      List<Long> rows = new ArrayList<>();
      TensorVector outs = new TensorVector();
      int split = 0;
      int start = 0;
      long total = q.getShape().get(0);
      for (int len : layout.sampleLens()) {
        if (start >= total) {
          break;
        }
        List<Long> visible = new ArrayList<>(); // the sample minus its noise tokens
        List<Long> causalAt = new ArrayList<>(); // offsets into visible of causal rows
        int pos = start;
        while (pos < start + len) {
          int s = layout.splitLens()[split];
          AttnMode mode = layout.modes()[split++];
          for (int t = pos; t < pos + s; t++) {
            if (mode == AttnMode.NOISE) {
              continue;
            }
            if (mode == AttnMode.CAUSAL) {
              causalAt.add((long) visible.size());
              rows.add((long) t);
            }
            visible.add((long) t);
          }
          pos += s;
        }
        start += len;
        if (causalAt.isEmpty()) {
          continue;
        }
        Tensor idx = longs(visible);
        Branches b = branches(tq.index_select(0, idx), tk.index_select(0, idx), tv.index_select(0, idx));
        Tensor gs = g.index_select(0, idx); // (n, Hq, 3)
        Tensor mixed = b.compressed().mul(gs.narrow(2, 0, 1))
            .add(b.selected().mul(gs.narrow(2, 1, 1)))
            .add(b.sliding().mul(gs.narrow(2, 2, 1)));
        outs.push_back(mixed.index_select(0, longs(causalAt)));
      }
      Tensor td = Torch.view(dense);
      if (rows.isEmpty()) {
        return dense;
      }
      Tensor sparse = outs.size() == 1 ? outs.get(0) : torch.cat(new TensorArrayRef(outs), 0);
      Tensor out = td.index_copy(0, longs(rows), sparse.to(ScalarTypes.of(td)));
      return Torch.adopt(out, q.getManager());
    }
  }

  /** The three branch outputs, each (n, Hq, D), for one causal sequence. */
  record Branches(Tensor compressed, Tensor selected, Tensor sliding) {}

  /** @param q (n, Hq, D) @param k (n, Hkv, D) @param v (n, Hkv, D), fp32, one causal sequence */
  Branches branches(Tensor q, Tensor k, Tensor v) {
    int n = (int) q.size(0);
    int group = heads / kvHeads;
    double scale = 1.0 / Math.sqrt(headDim);
    int ks = cfg.kernelSize();
    int stride = cfg.kernelStride();
    int bs = cfg.blockSize();
    int nc = n >= ks ? (n - ks) / stride + 1 : 0;
    int nb = (n + bs - 1) / bs;
    Tensor qh = q.transpose(0, 1); // (Hq, n, D)
    Tensor kr = repeat(k, group).transpose(0, 1); // (Hq, n, D)
    Tensor vr = repeat(v, group).transpose(0, 1);

    Tensor compressed;
    Tensor blockScore; // (Hkv, n, nb)
    if (nc > 0) {
      Tensor kc = compress(k, compressKey, nc); // (nc, Hkv, D)
      Tensor vc = compress(v, compressValue, nc);
      Tensor scores = qh.matmul(repeat(kc, group).transpose(0, 1).transpose(1, 2)).mul(new Scalar(scale)); // (Hq,n,nc)
      Tensor ends = torch.arange(new Scalar(0), new Scalar(nc)).mul(new Scalar(stride)).add(new Scalar(ks - 1));
      Tensor rowsAt = torch.arange(new Scalar(0), new Scalar(n)).unsqueeze(1);
      Tensor visible = rowsAt.ge(ends.unsqueeze(0)); // (n, nc)
      Tensor p = scores.masked_fill(visible.logical_not(), new Scalar(Double.NEGATIVE_INFINITY)).softmax(-1)
          .nan_to_num(new org.bytedeco.pytorch.DoubleOptional(0.0), new DoubleOptional(), new DoubleOptional());
      compressed = p.matmul(repeat(vc, group).transpose(0, 1)).transpose(0, 1); // (n, Hq, D)
      try (NoGradGuard noGrad = new NoGradGuard()) {
        Tensor grouped = p.detach().reshape(kvHeads, group, n, nc).sum(new long[] {1}, false, new ScalarTypeOptional());
        blockScore = grouped.matmul(overlap(nc, nb, n, ks, stride, bs));
      }
    } else {
      compressed = q.mul(new Scalar(0.0)); // no window complete yet anywhere: the branch contributes 0
      blockScore = q.new_zeros(new long[] {kvHeads, n, nb}, new ScalarTypeOptional(ScalarType.Float),
          new LayoutOptional(), new DeviceOptional(), new BoolOptional());
    }

    Tensor causal = bools(q, n, n).tril(0);
    Tensor selectedMask;
    try (NoGradGuard noGrad = new NoGradGuard()) {
      Tensor keyBlock = blockOf(n, bs); // (n) block of each position
      Tensor qBlock = keyBlock.unsqueeze(1);
      Tensor block = torch.arange(new Scalar(0), new Scalar(nb)).unsqueeze(0);
      Tensor allowed = block.le(qBlock); // (n, nb)
      Tensor forced = block.lt(new Scalar(cfg.initBlocks()))
          .logical_or(block.gt(qBlock.sub(new Scalar(cfg.localBlocks()))).logical_and(allowed))
          .logical_or(block.eq(qBlock));
      Tensor score = blockScore.masked_fill(forced, new Scalar(Double.POSITIVE_INFINITY))
          .masked_fill(allowed.logical_not(), new Scalar(Double.NEGATIVE_INFINITY));
      int kk = Math.min(cfg.topk(), nb);
      T_TensorTensor_T top = score.topk(kk, -1, true, false);
      Tensor chosen = q.new_zeros(new long[] {kvHeads, n, nb}, new ScalarTypeOptional(ScalarType.Bool),
          new LayoutOptional(), new DeviceOptional(), new BoolOptional())
          .scatter(2, top.get1(), top.get0().gt(new Scalar(Double.NEGATIVE_INFINITY)));
      selectedMask = chosen.index_select(2, keyBlock).logical_and(causal.unsqueeze(0)); // (Hkv, n, n)
      selectedMask = selectedMask.repeat_interleave(group, new org.bytedeco.pytorch.LongOptional(0), new org.bytedeco.pytorch.LongOptional());
    }
    Tensor selected = masked(qh, kr, vr, selectedMask.unsqueeze(0));
    Tensor band = causal.logical_and(bools(q, n, n).triu(-cfg.windowSize()));
    Tensor sliding = masked(qh, kr, vr, band);
    return new Branches(compressed, selected, sliding);
  }

  /** Fused attention of (H, n, D) heads under a boolean mask; returns (n, H, D). */
  private static Tensor masked(Tensor qh, Tensor kh, Tensor vh, Tensor mask) {
    return torch.scaled_dot_product_attention(qh.unsqueeze(0), kh.unsqueeze(0), vh.unsqueeze(0),
        new TensorOptional(mask), 0.0, false, new DoubleOptional(), false).squeeze(0).transpose(0, 1);
  }

  /** (nc, Hkv, D): each window of kernel_size rows every kernel_stride rows pooled into one. */
  private Tensor compress(Tensor x, Parameter weight, int nc) {
    int ks = cfg.kernelSize();
    Tensor windows = x.narrow(0, 0, (long) (nc - 1) * cfg.kernelStride() + ks)
        .unfold(0, ks, cfg.kernelStride()); // (nc, Hkv, D, ks)
    return switch (cfg.compression()) {
      case AVGPOOL -> windows.mean(new long[] {3}, false, new ScalarTypeOptional());
      case WEIGHTEDPOOL -> windows.mul(Torch.view(weight.value()).unsqueeze(1).unsqueeze(0))
          .sum(new long[] {3}, false, new ScalarTypeOptional());
      case LINEAR -> {
        Tensor flat = windows.permute(1, 0, 3, 2).reshape(kvHeads, nc, (long) ks * headDim); // (Hkv, nc, ks*D)
        yield flat.matmul(Torch.view(weight.value())).transpose(0, 1); // (nc, Hkv, D)
      }
    };
  }

  /** (nc, nb): how many kernel_stride chunks compressed block j shares with each full key block. */
  private static Tensor overlap(int nc, int nb, int n, int ks, int stride, int bs) {
    float[] m = new float[nc * nb];
    int full = n / bs;
    int chunksPerBlock = bs / stride;
    for (int j = 0; j < nc; j++) {
      for (int c = j; c < j + ks / stride; c++) {
        int b = c / chunksPerBlock;
        if (b < full) {
          m[j * nb + b] += 1;
        }
      }
    }
    return torch.from_blob(new org.bytedeco.javacpp.FloatPointer(m), new long[] {nc, nb}).clone();
  }

  private static Tensor blockOf(int n, int bs) {
    List<Long> b = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      b.add((long) (i / bs));
    }
    return longs(b);
  }

  private static Tensor repeat(Tensor x, int group) {
    return group == 1 ? x
        : x.repeat_interleave(group, new org.bytedeco.pytorch.LongOptional(1), new org.bytedeco.pytorch.LongOptional());
  }

  private static Tensor bools(Tensor like, long r, long c) {
    return like.new_ones(new long[] {r, c}, new ScalarTypeOptional(ScalarType.Bool), new LayoutOptional(),
        new DeviceOptional(), new BoolOptional());
  }

  private static Tensor longs(List<Long> values) {
    long[] a = new long[values.size()];
    for (int i = 0; i < a.length; i++) {
      a[i] = values.get(i);
    }
    return torch.from_blob(new org.bytedeco.javacpp.LongPointer(a), new long[] {a.length},
        new org.bytedeco.pytorch.TensorOptions(ScalarType.Long)).clone();
  }
}
