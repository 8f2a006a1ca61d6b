package ai.bakery.model.attention;

import ai.bakery.model.nn.Init;
import ai.bakery.model.nn.Linear;
import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.LayoutOptional;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.T_TensorTensor_T;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRef;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Native Sparse Attention of one decoder layer (LMMS Engine's {@code patch_type: [nsa]}), with BAGEL's split
 * semantics kept. Three branches per query, mixed by sigmoid gates from {@code g_proj} (hidden -> heads * 3,
 * gate order compressed, selected, sliding):
 * <ul>
 *   <li>compressed: windows of {@code kernel_size} keys/values every {@code kernel_stride} tokens pooled into
 *       one (weightedpool: per-kv-head weights over the window; linear: a per-head (kernel_size*D, D)
 *       projection; avgpool: the mean). As LMMS Engine, keys are pooled before RoPE with the learned
 *       {@code intra_block_pe} added to each window. A query at position p sees compressed block j iff
 *       p >= j*stride + kernel_size - 1;
 *   <li>selected: the compressed probabilities, summed over each GQA group, score blocks of {@code block_size}
 *       keys (a compressed block counts once per stride chunk it shares with a full block); the
 *       {@code init_blocks} first, the {@code local_blocks} nearest and the query's own block are forced, and
 *       the {@code topk} best (forced ones included) get exact attention up to p;
 *   <li>sliding: exact attention over keys p - window_size .. p.
 * </ul>
 *
 * <p>BAGEL's split semantics (where LMMS Engine forces everything causal). Every row's visible keys under
 * BAGEL's masks are a prefix of a row-specific sequence, so each row runs the causal NSA above at an effective
 * position p in that sequence:
 * <ul>
 *   <li>causal rows (text): the sample minus its noise tokens, p = the row's own place;
 *   <li>full rows (ViT, clean VAE): the same sequence, p = the last token of the row's split (a full split
 *       sees itself whole);
 *   <li>noise rows (noised VAE): the sample's earlier non-noise tokens followed by the noise split itself,
 *       p = its last token (noise splits are hidden from everything else).
 * </ul>
 * So with topk covering every block and a window covering the sample, the selected and sliding branches are
 * exactly BAGEL's attention under its packed causal/full/noise masks.
 *
 * <p>Cost: rows are processed per sequence in chunks of {@link #ROW_CHUNK}; a chunk's selected branch runs
 * over the union of the blocks its rows chose and its sliding branch over one window, so both grow linearly
 * with length; only the compressed branch is quadratic, divided by the stride.
 *
 * <p>Parameters under the layer's {@code self_attn} prefix, named and initialised as LMMS Engine's patch
 * registers them: {@code g_proj.weight} (Hq*3, hidden), torch's nn.Linear default U(+-1/sqrt(hidden));
 * {@code compress_key} / {@code compress_value}, (Hkv, kernel_size) for weightedpool and
 * (Hkv, kernel_size*D, D) for linear (none for avgpool), zeros; {@code intra_block_pe} (Hkv, kernel_size, D),
 * zeros. Kept for checkpoint compatibility: as in LMMS Engine the compressed keys get no RoPE, so the PE only
 * adds one vector to every compressed key of a head, a per-query constant softmax ignores (its gradient is 0).
 */
public final class NsaAttention {
  /** Query rows per chunk: bounds each chunk's masks to ROW_CHUNK x (chosen blocks or window) per head. */
  public static final int ROW_CHUNK = 128;

  private final NsaConfig cfg;
  private final int heads;
  private final int kvHeads;
  private final int headDim;
  private final Linear gProj;
  private final Parameter compressKey;
  private final Parameter compressValue;
  private final Parameter intraBlockPe;
  /** Rows per chunk; tests shrink it to check that chunking changes nothing. */
  int rowChunk = ROW_CHUNK;

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
    Shape w = switch (cfg.compression()) {
      case WEIGHTEDPOOL -> new Shape(kvHeads, ks);
      case LINEAR -> new Shape(kvHeads, (long) ks * headDim, headDim);
      case AVGPOOL -> null;
    };
    compressKey = w == null ? null : store.create(prefix + ".compress_key", w, Init.constant(w, 0f));
    compressValue = w == null ? null : store.create(prefix + ".compress_value", w, Init.constant(w, 0f));
    Shape pe = new Shape(kvHeads, ks, headDim);
    intraBlockPe = store.create(prefix + ".intra_block_pe", pe, Init.constant(pe, 0f));
  }

  public NsaConfig config() {
    return cfg;
  }

  public Linear gProj() {
    return gProj;
  }

  /**
   * @param q (T, Hq, D) queries after RoPE
   * @param k (T, Hkv, D) keys after RoPE
   * @param v (T, Hkv, D) values
   * @param kNoRope (T, Hkv, D) the same keys before RoPE: what the compression pools, as LMMS Engine
   * @param hidden (T, hidden) the layer's normed hidden states: the gates' input
   * @return (T, Hq, D) in the lowest float precision of q, k, v
   */
  public NDArray attend(NDArray q, NDArray k, NDArray v, NDArray kNoRope, NDArray hidden, PackLayout layout) {
    SdpaAttention.checkShapes(q, k, v, layout);
    if (!kNoRope.getShape().equals(k.getShape()) || hidden.getShape().get(0) != q.getShape().get(0)) {
      throw new IllegalArgumentException("NSA: pre-RoPE keys " + kNoRope.getShape() + " and gate input "
          + hidden.getShape() + " must match keys " + k.getShape() + " row for row");
    }
    NDArray gates = gProj.forward(hidden); // (T, Hq*3)
    try (PointerScope scope = new PointerScope()) {
      Tensor tq = Torch.view(q);
      Tensor tk = Torch.view(k);
      Tensor tv = Torch.view(v);
      ScalarType out = SdpaAttention.commonType(tq, tk, tv);
      Branches b = branches(tq, tk, tv, Torch.view(kNoRope), layout);
      Tensor g = Torch.view(gates).to(ScalarType.Float).sigmoid().reshape(-1, heads, 3);
      Tensor mixed = b.compressed().mul(g.narrow(2, 0, 1))
          .add(b.selected().mul(g.narrow(2, 1, 1)))
          .add(b.sliding().mul(g.narrow(2, 2, 1)));
      return Torch.adopt(mixed.to(out), q.getManager());
    }
  }

  /** The three branch outputs over the pack, each (T, Hq, D) fp32, before gating. */
  record Branches(Tensor compressed, Tensor selected, Tensor sliding) {}

  /**
   * One sequence NSA runs over: {@code keys} are pack positions in sequence order; query row i (pack position
   * {@code rows[i]}) sees the sequence up to index {@code pos[i]}; pos never decreases.
   */
  record Job(long[] keys, long[] rows, int[] pos) {}

  Branches branches(Tensor q, Tensor k, Tensor v, Tensor kNoRope, PackLayout layout) {
    long total = q.size(0);
    Tensor fq = q.to(ScalarType.Float);
    Tensor fk = k.to(ScalarType.Float);
    Tensor fv = v.to(ScalarType.Float);
    Tensor fkr = kNoRope.to(ScalarType.Float);
    TensorVector cmp = new TensorVector();
    TensorVector sel = new TensorVector();
    TensorVector swa = new TensorVector();
    long[] order = new long[(int) total];
    int filled = 0;
    for (Job job : plan(layout, total)) {
      Tensor keys = longs(job.keys());
      Tensor[] out = sequence(fq.index_select(0, longs(job.rows())), job.pos(), fk.index_select(0, keys),
          fv.index_select(0, keys), fkr.index_select(0, keys));
      cmp.push_back(out[0]);
      sel.push_back(out[1]);
      swa.push_back(out[2]);
      for (long row : job.rows()) {
        order[(int) row] = filled++;
      }
    }
    if (filled != total) {
      throw new IllegalStateException("NSA plan covered " + filled + " of " + total + " rows");
    }
    Tensor back = longs(order); // pack row -> place in the job-ordered outputs
    return new Branches(cat(cmp).index_select(0, back), cat(sel).index_select(0, back),
        cat(swa).index_select(0, back));
  }

  /** Cuts a pack into the sequences each row's NSA runs over (see the class comment). */
  static List<Job> plan(PackLayout layout, long total) {
    List<Job> jobs = new ArrayList<>();
    int[] splitLens = layout.splitLens();
    AttnMode[] modes = layout.modes();
    int split = 0;
    long start = 0;
    for (int len : layout.sampleLens()) {
      if (start >= total) {
        break; // trailing padding sample
      }
      if (start + len > total) {
        throw new IllegalArgumentException("sample [" + start + ", " + (start + len) + ") runs past the pack's "
            + total + " tokens");
      }
      List<Long> main = new ArrayList<>(); // the sample minus its noise tokens
      List<Long> rows = new ArrayList<>();
      List<Integer> pos = new ArrayList<>();
      long at = start;
      while (at < start + len) {
        if (split >= splitLens.length) {
          throw new IllegalArgumentException("split_lens end inside the sample ending at token " + (start + len));
        }
        int s = splitLens[split];
        AttnMode mode = modes[split++];
        if (at + s > start + len) {
          throw new IllegalArgumentException("split ending at token " + (at + s) + " crosses the sample ending at "
              + (start + len));
        }
        if (mode == AttnMode.NOISE) {
          long[] keys = new long[main.size() + s];
          long[] noiseRows = new long[s];
          int[] noisePos = new int[s];
          for (int i = 0; i < main.size(); i++) {
            keys[i] = main.get(i);
          }
          for (int i = 0; i < s; i++) {
            keys[main.size() + i] = at + i;
            noiseRows[i] = at + i;
            noisePos[i] = keys.length - 1;
          }
          if (s > 0) {
            jobs.add(new Job(keys, noiseRows, noisePos));
          }
        } else {
          int last = main.size() + s - 1;
          for (int i = 0; i < s; i++) {
            rows.add(at + i);
            pos.add(mode == AttnMode.CAUSAL ? main.size() : last);
            main.add(at + i);
          }
        }
        at += s;
      }
      if (!rows.isEmpty()) {
        jobs.add(new Job(main.stream().mapToLong(Long::longValue).toArray(),
            rows.stream().mapToLong(Long::longValue).toArray(), pos.stream().mapToInt(Integer::intValue).toArray()));
      }
      start += len;
    }
    if (start < total) {
      throw new IllegalArgumentException("sample_lens cover " + start + " tokens but the pack has " + total);
    }
    return jobs;
  }

  /**
   * The three branches of one sequence.
   *
   * @param q (r, Hq, D) the query rows, fp32
   * @param pos per row, the last sequence index it sees
   * @param k (n, Hkv, D) the sequence's keys after RoPE; {@code v} its values; {@code kRaw} its keys before RoPE
   * @return {compressed, selected, sliding}, each (r, Hq, D)
   */
  private Tensor[] sequence(Tensor q, int[] pos, Tensor k, Tensor v, Tensor kRaw) {
    int n = (int) k.size(0);
    int group = heads / kvHeads;
    int ks = cfg.kernelSize();
    int stride = cfg.kernelStride();
    int bs = cfg.blockSize();
    int nc = n >= ks ? (n - ks) / stride + 1 : 0;
    int nb = (n + bs - 1) / bs;
    double scale = 1.0 / Math.sqrt(headDim);
    Tensor kh = repeat(k, group).transpose(0, 1); // (Hq, n, D)
    Tensor vh = repeat(v, group).transpose(0, 1);
    Tensor kc = null; // (Hq, nc, D)
    Tensor vc = null;
    Tensor overlap = null; // (nc, nb)
    Tensor ends = null; // (nc) last token of each compressed block
    if (nc > 0) {
      Tensor pe = Torch.view(intraBlockPe.value()).to(ScalarType.Float).permute(0, 2, 1).unsqueeze(0); // (1,Hkv,D,ks)
      kc = repeat(compress(kRaw, pe, compressKey, nc), group).transpose(0, 1);
      vc = repeat(compress(v, null, compressValue, nc), group).transpose(0, 1);
      overlap = overlap(nc, nb, n, ks, stride, bs);
      ends = torch.arange(new Scalar(0), new Scalar(nc)).mul(new Scalar(stride)).add(new Scalar(ks - 1));
    }
    TensorVector cmpOut = new TensorVector();
    TensorVector selOut = new TensorVector();
    TensorVector swaOut = new TensorVector();
    for (int a = 0; a < pos.length; a += rowChunk) {
      int c = Math.min(rowChunk, pos.length - a);
      int[] p = java.util.Arrays.copyOfRange(pos, a, a + c);
      Tensor qc = q.narrow(0, a, c).transpose(0, 1); // (Hq, c, D)
      Tensor at = ints(p).unsqueeze(1); // (c, 1)

      Tensor compressed;
      Tensor blockScore; // (Hkv, c, nb)
      if (nc > 0) {
        Tensor scores = qc.matmul(kc.transpose(1, 2)).mul(new Scalar(scale)); // (Hq, c, nc)
        Tensor visible = at.ge(ends.unsqueeze(0)); // (c, nc)
        Tensor probs = scores.masked_fill(visible.logical_not(), new Scalar(Double.NEGATIVE_INFINITY)).softmax(-1)
            .nan_to_num(new DoubleOptional(0.0), new DoubleOptional(), new DoubleOptional());
        compressed = probs.matmul(vc).transpose(0, 1); // (c, Hq, D)
        try (NoGradGuard noGrad = new NoGradGuard()) {
          blockScore = probs.detach().reshape(kvHeads, group, c, nc)
              .sum(new long[] {1}, false, new ScalarTypeOptional()).matmul(overlap);
        }
      } else {
        compressed = qc.transpose(0, 1).mul(new Scalar(0.0)); // no complete window anywhere: contributes 0
        blockScore = q.new_zeros(new long[] {kvHeads, c, nb}, new ScalarTypeOptional(ScalarType.Float),
            new LayoutOptional(), new DeviceOptional(), new BoolOptional());
      }
      cmpOut.push_back(compressed);

      // Selected: each row's chosen blocks, then exact attention over the union of the chunk's blocks.
      Tensor chosenKeys;
      Tensor keyIdx;
      try (NoGradGuard noGrad = new NoGradGuard()) {
        int[] rowBlock = new int[c];
        for (int i = 0; i < c; i++) {
          rowBlock[i] = p[i] / bs;
        }
        Tensor qBlock = ints(rowBlock).unsqueeze(1); // (c, 1)
        Tensor block = torch.arange(new Scalar(0), new Scalar(nb)).unsqueeze(0); // (1, nb)
        Tensor allowed = block.le(qBlock);
        Tensor forced = block.lt(new Scalar(cfg.initBlocks()))
            .logical_or(block.gt(qBlock.sub(new Scalar(cfg.localBlocks()))))
            .logical_or(block.eq(qBlock))
            .logical_and(allowed);
        Tensor score = blockScore.masked_fill(forced, new Scalar(Double.POSITIVE_INFINITY))
            .masked_fill(allowed.logical_not(), new Scalar(Double.NEGATIVE_INFINITY));
        T_TensorTensor_T top = score.topk(Math.min(cfg.topk(), nb), -1, true, false);
        Tensor chosen = q.new_zeros(new long[] {kvHeads, c, nb}, new ScalarTypeOptional(ScalarType.Bool),
            new LayoutOptional(), new DeviceOptional(), new BoolOptional())
            .scatter(2, top.get1(), top.get0().gt(new Scalar(Double.NEGATIVE_INFINITY)));
        long[] union = trueIndexes(chosen.any(new long[] {0, 1}, false));
        List<Long> keys = new ArrayList<>();
        List<Long> keyBlock = new ArrayList<>();
        for (long b : union) {
          for (long t = b * bs; t < Math.min(n, (b + 1) * bs); t++) {
            keys.add(t);
            keyBlock.add(b);
          }
        }
        keyIdx = longs(keys.stream().mapToLong(Long::longValue).toArray());
        chosenKeys = chosen.index_select(2, longs(keyBlock.stream().mapToLong(Long::longValue).toArray()))
            .logical_and(keyIdx.unsqueeze(0).le(at).unsqueeze(0)); // (Hkv, c, u)
        chosenKeys = repeatRows(chosenKeys, group);
      }
      selOut.push_back(masked(qc, kh.index_select(1, keyIdx), vh.index_select(1, keyIdx), chosenKeys.unsqueeze(0)));

      // Sliding: the chunk's rows see at most keys [p[0] - w, p[c-1]] (pos never decreases).
      int lo = Math.max(0, p[0] - cfg.windowSize());
      int len = p[c - 1] - lo + 1;
      Tensor keyPos = torch.arange(new Scalar(lo), new Scalar(lo + len)).unsqueeze(0); // (1, len)
      Tensor band = keyPos.le(at).logical_and(keyPos.ge(at.sub(new Scalar(cfg.windowSize())))); // (c, len)
      swaOut.push_back(masked(qc, kh.narrow(1, lo, len), vh.narrow(1, lo, len), band));
    }
    return new Tensor[] {cat(cmpOut), cat(selOut), cat(swaOut)};
  }

  /** Fused attention of (H, c, D) queries over (H, u, D) keys under a boolean mask; returns (c, H, D). */
  private static Tensor masked(Tensor qh, Tensor kh, Tensor vh, Tensor mask) {
    return torch.scaled_dot_product_attention(qh.unsqueeze(0), kh.unsqueeze(0), vh.unsqueeze(0),
        new TensorOptional(mask), 0.0, false, new DoubleOptional(), false).squeeze(0).transpose(0, 1);
  }

  /**
   * (nc, Hkv, D): each window of kernel_size rows every kernel_stride rows pooled into one.
   *
   * @param pe (1, Hkv, D, ks) added to every window before pooling (keys), or null (values)
   */
  private Tensor compress(Tensor x, Tensor pe, Parameter weight, int nc) {
    int ks = cfg.kernelSize();
    Tensor windows = x.narrow(0, 0, (long) (nc - 1) * cfg.kernelStride() + ks)
        .unfold(0, ks, cfg.kernelStride()); // (nc, Hkv, D, ks)
    if (pe != null) {
      windows = windows.add(pe);
    }
    return switch (cfg.compression()) {
      case AVGPOOL -> windows.mean(new long[] {3}, false, new ScalarTypeOptional());
      case WEIGHTEDPOOL -> windows.mul(Torch.view(weight.value()).unsqueeze(1).unsqueeze(0))
          .sum(new long[] {3}, false, new ScalarTypeOptional());
      case LINEAR -> {
        // window position t, input dim i -> row t*D + i of the (ks*D, D) projection, as LMMS Engine's layout
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
    return torch.from_blob(new FloatPointer(m), new long[] {nc, nb}).clone();
  }

  /** Indexes where a 1-d bool tensor is true, read on the host. */
  private static long[] trueIndexes(Tensor flags) {
    Tensor l = flags.to(ScalarType.Long).contiguous().cpu();
    int n = (int) l.size(0);
    LongPointer p = new LongPointer(l.data_ptr()).capacity(n);
    List<Long> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      if (p.get(i) != 0) {
        out.add((long) i);
      }
    }
    return out.stream().mapToLong(Long::longValue).toArray();
  }

  private static Tensor cat(TensorVector parts) {
    return parts.size() == 1 ? parts.get(0) : torch.cat(new TensorArrayRef(parts), 0);
  }

  /** (n, Hkv, D) -> (n, Hq, D), query head h reading kv head h / group (HF repeat_kv). */
  private static Tensor repeat(Tensor x, int group) {
    return group == 1 ? x : x.repeat_interleave(group, new LongOptional(1), new LongOptional());
  }

  /** (Hkv, ...) -> (Hq, ...) along dim 0. */
  private static Tensor repeatRows(Tensor x, int group) {
    return group == 1 ? x : x.repeat_interleave(group, new LongOptional(0), new LongOptional());
  }

  private static Tensor ints(int[] values) {
    long[] a = new long[values.length];
    for (int i = 0; i < a.length; i++) {
      a[i] = values[i];
    }
    return longs(a);
  }

  private static Tensor longs(long[] a) {
    return torch.from_blob(new LongPointer(a), new long[] {a.length}, new TensorOptions(ScalarType.Long)).clone();
  }
}
