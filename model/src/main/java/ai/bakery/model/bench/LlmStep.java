package ai.bakery.model.bench;

import ai.bakery.model.attention.AttentionKernel;
import ai.bakery.model.attention.AttnMode;
import ai.bakery.model.attention.PackLayout;
import ai.bakery.model.config.LlmConfig;
import ai.bakery.model.llm.Qwen2Model;
import ai.bakery.model.llm.TokenRouting;
import ai.bakery.model.nn.Init;
import ai.bakery.model.recompute.SegmentRunner;
import ai.bakery.model.recompute.SegmentedBackward;
import ai.bakery.model.tensor.BF16Precision;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.util.stream.IntStream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.global.torch;

/**
 * One training step of a preset's language model over a packed batch: embed, decoder layers (und tokens on
 * the base weights, gen tokens on the MoT copies), final norm, LM head, mean cross entropy, backward. The
 * pack holds samples of {@code sampleLen} tokens, each a text prompt (causal), an image (full) and an answer
 * (causal). ViT and VAE are not part of this step.
 */
final class LlmStep implements AutoCloseable {
  private final LlmConfig cfg;
  private final NDManager root;
  private final ParameterStore store;
  private final Qwen2Model model;

  LlmStep(LlmConfig cfg) {
    Torch.init(); // before the first manager: DJL must start on JavaCPP's libtorch
    this.cfg = cfg;
    this.root = NDManager.newBaseManager();
    this.store = new ParameterStore(root);
    this.model = new Qwen2Model(cfg, store, "language_model", Init.seeded(1), precision(false));
  }

  private final SwitchPrecision precision = new SwitchPrecision();

  private Precision precision(boolean bf16) {
    precision.bf16 = bf16;
    return precision;
  }

  /**
   * Matmul weights one token passes through: every decoder layer's q/k/v/o and MLP projections once (a MoT
   * layer holds two copies, but each token uses one) and the LM head. The embedding is a lookup, not a matmul.
   */
  long matmulParams() {
    long h = cfg.hiddenSize();
    long q = (long) cfg.numAttentionHeads() * cfg.headDim();
    long kv = (long) cfg.numKeyValueHeads() * cfg.headDim();
    long layer = h * (q + 2 * kv) + q * h + 3 * h * cfg.intermediateSize();
    return layer * cfg.numHiddenLayers() + h * cfg.vocabSize();
  }

  /** Forward FLOPs of one pack: 2 per matmul weight per token plus causal-ish attention scores and values. */
  double forwardFlops(int tokens, int sampleLen) {
    double dense = 2.0 * matmulParams() * tokens;
    double attn = 2.0 * 2.0 * cfg.numHiddenLayers() * cfg.numAttentionHeads() * cfg.headDim()
        * (double) sampleLen * sampleLen * (tokens / sampleLen);
    return dense + attn;
  }

  /** Runs one step; returns its wall time in ms. */
  long step(int tokens, int sampleLen, AttentionKernel kernel, boolean bf16, boolean recompute) {
    precision(bf16);
    int samples = Math.max(1, tokens / sampleLen);
    int total = samples * sampleLen;
    int[] sampleLens = new int[samples];
    int[] splits = new int[samples * 3];
    AttnMode[] modes = new AttnMode[samples * 3];
    int imageLen = sampleLen / 2;
    int prompt = sampleLen / 8;
    int[] gen = new int[samples * imageLen];
    int[] und = new int[total - gen.length];
    int gi = 0;
    int ui = 0;
    for (int s = 0; s < samples; s++) {
      sampleLens[s] = sampleLen;
      splits[3 * s] = prompt;
      splits[3 * s + 1] = imageLen;
      splits[3 * s + 2] = sampleLen - prompt - imageLen;
      modes[3 * s] = AttnMode.CAUSAL;
      modes[3 * s + 1] = AttnMode.FULL;
      modes[3 * s + 2] = AttnMode.CAUSAL;
      for (int t = 0; t < sampleLen; t++) {
        int pos = s * sampleLen + t;
        if (t >= prompt && t < prompt + imageLen) {
          gen[gi++] = pos;
        } else {
          und[ui++] = pos;
        }
      }
    }
    PackLayout layout = new PackLayout(sampleLens, splits, modes);
    SegmentedBackward sb = recompute ? new SegmentedBackward() : null;
    model.setSegmentRunner(recompute ? sb : SegmentRunner.PLAIN);
    try (NDManager step = root.newSubManager()) {
      NDArray ids = Torch.adopt(torch.randint(cfg.vocabSize(), new long[] {total}), step);
      NDArray labels = Torch.adopt(torch.randint(cfg.vocabSize(), new long[] {total, 1}), step);
      NDArray positions = step.create(IntStream.range(0, total).mapToLong(i -> i % sampleLen).toArray());
      TokenRouting routing = TokenRouting.of(total, und, gen, step);
      long t0 = System.nanoTime();
      try (GradientCollector gc = Torch.init().newGradientCollector()) {
        NDArray hidden = model.forward(model.embed(ids), positions, routing, layout, kernel);
        NDArray logp = precision.full(model.lmHead(hidden)).logSoftmax(-1);
        NDArray nll;
        try (PointerScope scope = new PointerScope()) {
          nll = Torch.adopt(torch.gather(Torch.view(logp), 1, Torch.view(labels)), step).neg().mean();
        }
        gc.backward(nll);
        if (sb != null) {
          sb.backward(gc);
        }
      }
      return (System.nanoTime() - t0) / 1_000_000;
    }
  }

  @Override
  public void close() {
    store.close();
    root.close();
  }

  /** fp32 or bf16, switchable between steps without rebuilding the model. */
  private static final class SwitchPrecision implements Precision {
    boolean bf16;

    @Override
    public NDArray weight(NDArray w) {
      return bf16 ? BF16Precision.INSTANCE.weight(w) : w;
    }

    @Override
    public NDArray activation(NDArray x) {
      return bf16 ? BF16Precision.INSTANCE.activation(x) : x;
    }

    @Override
    public NDArray full(NDArray x) {
      return BF16Precision.INSTANCE.full(x);
    }
  }
}
