package ai.bakery.model.llm;

import ai.bakery.model.attention.AttentionKernel;
import ai.bakery.model.attention.NsaConfig;
import ai.bakery.model.attention.PackLayout;
import ai.bakery.model.config.LlmConfig;
import ai.bakery.model.nn.Embedding;
import ai.bakery.model.nn.Init;
import ai.bakery.model.nn.Linear;
import ai.bakery.model.nn.RmsNorm;
import ai.bakery.model.nn.Rope;
import ai.bakery.model.recompute.SegmentRunner;
import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;

/**
 * BAGEL's language model (the reference's Qwen2ForCausalLM over its packed Qwen2Model): token embedding,
 * decoder layers, final norm ({@code norm_moe_gen} for generation tokens when layers route tokens) and the LM
 * head. Names under {@code prefix} (BAGEL: {@code language_model}): {@code .model.embed_tokens.weight},
 * {@code .model.layers.i.*}, {@code .model.norm.weight}, {@code .model.norm_moe_gen.weight},
 * {@code .lm_head.weight} (absent when tied to the embedding).
 */
public final class Qwen2Model {
  private final LlmConfig cfg;
  private final ParameterStore store;
  private final String prefix;
  private final Precision precision;
  private final Embedding embedTokens;
  private final List<DecoderLayer> layers = new ArrayList<>();
  private final RmsNorm norm;
  private final RmsNorm normGen;
  private final Linear lmHead;
  private final Rope rope;
  private SegmentRunner segmentRunner = SegmentRunner.PLAIN;
  private NsaConfig nsa;

  public Qwen2Model(LlmConfig cfg, ParameterStore store, String prefix, Init init, Precision precision) {
    this.cfg = cfg;
    this.store = store;
    this.prefix = prefix;
    this.precision = precision;
    String base = prefix + ".model";
    embedTokens = new Embedding(store, base + ".embed_tokens", cfg.vocabSize(), cfg.hiddenSize(), init,
        cfg.initializerRange(), precision);
    for (int i = 0; i < cfg.numHiddenLayers(); i++) {
      layers.add(DecoderLayer.create(store, base + ".layers." + i, cfg, init, precision));
    }
    norm = new RmsNorm(store, base + ".norm", cfg.hiddenSize(), cfg.rmsNormEps(), precision);
    normGen = cfg.routesTokens()
        ? new RmsNorm(store, base + ".norm_moe_gen", cfg.hiddenSize(), cfg.rmsNormEps(), precision)
        : null;
    lmHead = cfg.tieWordEmbeddings()
        ? null
        : Linear.normal(store, prefix + ".lm_head", cfg.hiddenSize(), cfg.vocabSize(), false, init,
            cfg.initializerRange(), precision);
    rope = new Rope(cfg.headDim(), cfg.ropeTheta());
  }

  /** @param ids (N) token ids @return (N, hidden) */
  public NDArray embed(NDArray ids) {
    return embedTokens.forward(ids);
  }

  /**
   * The training forward over one pack.
   *
   * @param packedSequence (T, hidden) input embeddings in pack order
   * @param packedPositionIds (T) RoPE positions
   * @param routing und/gen split of the T tokens (ignored by plain Qwen2 layers)
   * @param layout samples and attention splits of the pack
   * @param kernel attention core
   * @return (T, hidden) final hidden states after the final norm(s)
   */
  public NDArray forward(NDArray packedSequence, NDArray packedPositionIds, TokenRouting routing, PackLayout layout,
      AttentionKernel kernel) {
    NDArray x = packedSequence;
    boolean routed = cfg.routesTokens();
    if (routed && cfg.freezeUnd()) {
      x = routing.route(x, NDArray::stopGradient, g -> g);
    }
    PackContext ctx = new PackContext(routing, rope.table(packedPositionIds), layout, kernel);
    List<UnaryOperator<NDArray>> segments = new ArrayList<>(layers.size());
    for (DecoderLayer layer : layers) {
      segments.add(h -> layer.forward(h, ctx));
    }
    x = segmentRunner.run(segments, x); // plain, or activation recompute per layer
    if (!routed) {
      return norm.forward(x);
    }
    return routing.route(x, rows -> frozen(norm.forward(rows)), normGen::forward);
  }

  /** @param hidden (N, hidden) @return (N, vocab) logits */
  public NDArray lmHead(NDArray hidden) {
    return lmHead == null ? Linear.project(hidden, embedTokens.weight(), precision) : lmHead.forward(hidden);
  }

  /**
   * The reference's {@code init_moe}: every {@code *_moe_gen} weight becomes a copy of its understanding
   * twin. Call after loading a plain LLM checkpoint; returns how many weights were copied.
   */
  public int copyInitMoe() {
    int n = 0;
    String start = prefix + ".";
    // Device-side copies without autograd: a 7B model's experts never pass through host memory.
    try (NoGradGuard noGrad = new NoGradGuard(); PointerScope scope = new PointerScope()) {
      for (Map.Entry<String, Parameter> e : store.all().entrySet()) {
        String name = e.getKey();
        if (name.startsWith(start) && name.contains("_moe_gen")) {
          Parameter twin = store.get(name.replace("_moe_gen", ""));
          Torch.view(e.getValue().value()).copy_(Torch.view(twin.value()));
          n++;
        }
      }
    }
    return n;
  }

  /**
   * LMMS Engine's {@code monkey_patch_kwargs: {patch_type: [nsa]}}: every decoder layer's attention becomes
   * Native Sparse Attention with its own gates and compression weights ({@code .model.layers.i.self_attn.g_proj
   * .weight}, {@code .compress_key}, {@code .compress_value}, {@code .intra_block_pe}), drawn from {@code init}
   * after every other weight. The pack's kernel is then unused by the decoder. Call before loading weights.
   */
  public void enableNsa(NsaConfig nsa, Init init) {
    if (this.nsa != null) {
      throw new IllegalStateException(prefix + ": NSA is already enabled");
    }
    for (DecoderLayer layer : layers) {
      layer.attention().enableNsa(store, nsa, init, precision);
    }
    this.nsa = nsa;
  }

  /** The NSA settings of the decoder layers, or null when they use the pack's attention kernel. */
  public NsaConfig nsaConfig() {
    return nsa;
  }

  /** How the decoder layers run: {@link SegmentRunner#PLAIN} or activation recompute (one segment per layer). */
  public void setSegmentRunner(SegmentRunner runner) {
    this.segmentRunner = java.util.Objects.requireNonNull(runner);
  }

  public LlmConfig config() {
    return cfg;
  }

  public String prefix() {
    return prefix;
  }

  private NDArray frozen(NDArray undRows) {
    return cfg.freezeUnd() ? undRows.stopGradient() : undRows;
  }
}
