package ai.bakery.model.bagel;

import ai.bakery.model.attention.AttentionKernel;
import ai.bakery.model.attention.EagerAttention;
import ai.bakery.model.config.BagelConfig;
import ai.bakery.model.llm.Qwen2Model;
import ai.bakery.model.llm.TokenRouting;
import ai.bakery.model.nn.Init;
import ai.bakery.model.nn.Linear;
import ai.bakery.model.nn.Rows;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.recompute.SegmentRunner;
import ai.bakery.model.tensor.Precision;
import ai.bakery.model.tensor.Torch;
import ai.bakery.model.vit.SiglipVisionModel;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import java.util.Objects;
import org.bytedeco.pytorch.global.torch;

/**
 * BAGEL's packed training forward: text embeddings, ViT features through the connector (plus vit_pos_embed),
 * noised VAE latents through vae2llm (plus timestep and latent position embeddings) are scattered into one
 * sequence, run through the Qwen2 MoT decoder, and scored: CE at the CE positions, velocity MSE at the
 * noised latent tokens.
 *
 * <p>Weight names are the reference checkpoint's: {@code language_model.*}, {@code vit_model.*},
 * {@code connector.fc1/fc2}, {@code vit_pos_embed.pos_embed}, {@code time_embedder.mlp.0/2}, {@code vae2llm},
 * {@code llm2vae}, {@code latent_pos_embed.pos_embed}. The VAE itself is not part of the model: the trainer
 * encodes the padded images under no-grad and passes the latents in {@link BagelInputs}.
 */
public final class Bagel {
  private final BagelConfig cfg;
  private final ParameterStore store;
  private final SwitchablePrecision precision;
  private SegmentRunner segmentRunner = SegmentRunner.PLAIN;
  private final Qwen2Model languageModel;
  private final TimestepEmbedder timeEmbedder;
  private final Linear vae2llm;
  private final Linear llm2vae;
  private final PositionEmbedding latentPosEmbed;
  private final SiglipVisionModel vitModel;
  private final MlpConnector connector;
  private final PositionEmbedding vitPosEmbed;
  private volatile AttentionKernel kernel = new EagerAttention();

  /** A freshly initialised model (seeded), fp32, eager attention. */
  public Bagel(BagelConfig cfg, ParameterStore store, long seed) {
    this(cfg, store, Init.seeded(seed), Precision.FP32);
  }

  /**
   * @param init {@link Init#seeded} to train from scratch, {@link Init#forLoading} when a checkpoint follows
   */
  public Bagel(BagelConfig cfg, ParameterStore store, Init init, Precision precision) {
    this.cfg = Objects.requireNonNull(cfg, "cfg");
    this.store = store;
    this.precision = new SwitchablePrecision(precision);
    int hidden = cfg.llm().hiddenSize();
    // Registration follows the reference's module order.
    languageModel = new Qwen2Model(cfg.llm(), store, "language_model", init, this.precision);
    if (cfg.visualGen()) {
      int latentDim = cfg.patchLatentDim();
      timeEmbedder = new TimestepEmbedder(store, "time_embedder", hidden, init, this.precision);
      vae2llm = new Linear(store, "vae2llm", latentDim, hidden, true, init, this.precision);
      llm2vae = Linear.zeros(store, "llm2vae", hidden, latentDim, true, this.precision);
      latentPosEmbed = new PositionEmbedding(store, "latent_pos_embed", cfg.maxLatentSize(), hidden);
    } else {
      timeEmbedder = null;
      vae2llm = null;
      llm2vae = null;
      latentPosEmbed = null;
    }
    if (cfg.visualUnd()) {
      vitModel = new SiglipVisionModel(cfg.vit(), store, "vit_model", init, this.precision);
      connector = new MlpConnector(store, "connector", cfg.vit().hiddenSize(), hidden, cfg.connectorAct(), init,
          this.precision);
      vitPosEmbed = new PositionEmbedding(store, "vit_pos_embed", cfg.vitMaxNumPatchPerSide(), hidden);
    } else {
      vitModel = null;
      connector = null;
      vitPosEmbed = null;
    }
    if (cfg.copyInitMoe() && cfg.llm().routesTokens() && init.draws()) {
      languageModel.copyInitMoe();
    }
  }

  /**
   * The training forward over one pack. Every array it creates is owned by {@code step}, wherever the batch
   * lives, so closing {@code step} frees the whole forward (and backward) state.
   *
   * @param noise source of the flow-matching noise (one draw of (VAE tokens, patch_latent_dim) per call)
   */
  public BagelOutput forward(BagelInputs batch, NDManager step, NoiseSource noise) {
    checkIds(batch);
    BagelInputs in = batch.aliasedTo(step); // every activation below lands on the step's manager
    NDArray undRows = understandingRows(in); // (Nt + Nv, H): text then ViT tokens
    Latents latents = in.hasVae() ? generationRows(in, step, noise) : null;
    TokenRouting routing = TokenRouting.of(in.sequenceLength(), in.undIndexes(), in.genIndexes(), step);
    NDArray sequence = routing.merge(undRows, latents == null ? null : latents.rows()); // (T, H) in pack order
    NDArray hidden = languageModel.forward(sequence, in.packedPositionIds(), routing, in.layout(), kernel);
    NDArray mse = in.numMseTokens() > 0 ? velocityError(hidden, latents, in, step) : null;
    NDArray ce = in.numCeTokens() > 0 ? tokenCrossEntropy(hidden, in, step) : null;
    return new BagelOutput(ce, mse, in.numCeTokens(), in.numMseTokens());
  }

  /**
   * The inference forward (the reference's {@code _forward_flow} and text decoding, without a KV cache): the
   * final hidden state of every token of the pack. The noised VAE tokens (finite {@code packedTimesteps}) enter
   * as the given x_t at flow time {@code t} (already shifted, as the sampler's schedule is); clean conditions
   * enter as their encoded latents at t = 0. Run it under a {@code NoGradGuard}.
   *
   * @param noisedRows (numNoised, patch_latent_dim) x_t of the tokens being generated, or null when the pack
   *     generates nothing
   * @return (T, hidden)
   */
  public NDArray inferHidden(BagelInputs batch, NDManager step, NDArray noisedRows, float t) {
    checkIds(batch);
    BagelInputs in = batch.aliasedTo(step);
    NDArray undRows = understandingRows(in);
    NDArray genRows = null;
    if (in.hasVae()) {
      if (!cfg.visualGen()) {
        throw new IllegalArgumentException("the pack has VAE tokens but visual_gen is off");
      }
      int[] noised = in.noisedVaeTokens();
      NDArray clean = patchify(in.paddedLatent(), in.patchifiedVaeLatentShapes()); // (Ng, p*p*C)
      int ng = (int) clean.getShape().get(0);
      float[] times = new float[ng];
      long[] pick = new long[ng]; // row of concat(clean, noisedRows) each token takes
      for (int i = 0; i < ng; i++) {
        pick[i] = i;
      }
      NDArray source = clean;
      if (noised.length > 0) {
        if (noisedRows == null || noisedRows.getShape().get(0) != noised.length) {
          throw new IllegalArgumentException("the pack has " + noised.length + " noised VAE tokens but "
              + (noisedRows == null ? "no" : String.valueOf(noisedRows.getShape().get(0))) + " x_t rows were given");
        }
        for (int k = 0; k < noised.length; k++) {
          pick[noised[k]] = ng + k;
          times[noised[k]] = t;
        }
        source = clean.concat(noisedRows.toType(clean.getDataType(), false), 0);
      }
      NDArray x = Rows.select(source, step.create(pick), step);
      NDArray tv = step.create(times);
      genRows = vae2llm.forward(x).add(timeEmbedder.forward(tv)).add(latentPosEmbed.forward(in.packedLatentPositionIds()));
    }
    TokenRouting routing = TokenRouting.of(in.sequenceLength(), in.undIndexes(), in.genIndexes(), step);
    NDArray sequence = routing.merge(undRows, genRows);
    return languageModel.forward(sequence, in.packedPositionIds(), routing, in.layout(), kernel);
  }

  /** llm2vae at the given pack positions, in full precision: the predicted velocity (noise - x0) per token. */
  public NDArray velocityAt(NDArray hidden, NDArray positions, NDManager step) {
    return precision.full(llm2vae.forward(Rows.select(hidden, positions, step)));
  }

  /** lm_head at the given pack positions, in full precision: next-token logits (N, vocab). */
  public NDArray logitsAt(NDArray hidden, NDArray positions, NDManager step) {
    return precision.full(languageModel.lmHead(Rows.select(hidden, positions, step)));
  }

  /** The VAE tokens' LLM inputs, with the clean latents and the noise they were built from. */
  private record Latents(NDArray rows, NDArray clean, NDArray noise) {}

  /** Text embeddings, then ViT features through the connector plus vit_pos_embed. */
  private NDArray understandingRows(BagelInputs in) {
    NDArray rows = languageModel.embed(in.packedTextIds()); // (Nt, H)
    if (!in.hasVit()) {
      return rows;
    }
    if (!cfg.visualUnd()) {
      throw new IllegalArgumentException("the pack has ViT tokens but visual_und is off");
    }
    NDArray feats = vitModel.forward(in.packedVitTokens(), in.packedVitPositionIds(), in.vitTokenSeqlens());
    NDArray connected = segmentRunner.run(List.of(connector::forward), feats); // its own checkpointed segment
    NDArray vitRows = connected.add(vitPosEmbed.forward(in.packedVitPositionIds())); // (Nv, H)
    return rows.concat(vitRows, 0);
  }

  /** x_t = (1 - t) x0 + t noise, embedded as vae2llm(x_t) + time_embedder(t) + latent_pos_embed. */
  private Latents generationRows(BagelInputs in, NDManager step, NoiseSource noise) {
    if (!cfg.visualGen()) {
      throw new IllegalArgumentException("the pack has VAE tokens but visual_gen is off");
    }
    NDArray clean = patchify(in.paddedLatent(), in.patchifiedVaeLatentShapes()); // (Ng, p*p*C)
    NDArray t = shiftedTimesteps(in.packedTimesteps()).reshape(-1, 1); // (Ng, 1), 0 for clean conditions
    NDArray eps = noise.sample(step, clean.getShape());
    NDArray noised = clean.mul(t.neg().add(1)).add(eps.mul(t));
    NDArray rows = vae2llm.forward(noised)
        .add(timeEmbedder.forward(t.reshape(-1)))
        .add(latentPosEmbed.forward(in.packedLatentPositionIds()));
    return new Latents(rows, clean, eps);
  }

  /** (llm2vae(h) - (noise - x0))^2 at the noised tokens: v = dx_t/dt points from data to noise. */
  private NDArray velocityError(NDArray hidden, Latents latents, BagelInputs in, NDManager step) {
    NDArray preds = llm2vae.forward(Rows.select(hidden, in.mseLossIndexes(), step)); // (Nm, p*p*C)
    NDArray noisedRows = step.create(java.util.Arrays.stream(in.noisedVaeTokens()).asLongStream().toArray());
    NDArray target = Rows.select(latents.noise().sub(latents.clean()), noisedRows, step);
    return precision.full(preds).sub(target).square();
  }

  /** -log softmax(lm_head(h))[label] at the CE positions, softmax in full precision. */
  private NDArray tokenCrossEntropy(NDArray hidden, BagelInputs in, NDManager step) {
    NDArray logits = languageModel.lmHead(Rows.select(hidden, in.ceLossIndexes(), step)); // (Nce, V)
    NDArray logp = precision.full(logits).logSoftmax(-1);
    NDArray labels = in.packedLabelIds().reshape(-1, 1);
    labels.attach(step);
    NDArray picked = Torch.adopt(torch.gather(Torch.view(logp), 1, Torch.view(labels)), step);
    return picked.reshape(-1).neg();
  }

  /** Ids past a table's end would fail deep inside a kernel; name the table and the likely cause instead. */
  private void checkIds(BagelInputs in) {
    if (in.maxTokenId() >= cfg.llm().vocabSize()) {
      throw new IllegalArgumentException("token id " + in.maxTokenId() + " >= vocab_size " + cfg.llm().vocabSize()
          + " (is the tokenizer, with its special tokens, larger than the model's embedding?)");
    }
    int latentCells = cfg.maxLatentSize() * cfg.maxLatentSize();
    if (cfg.visualGen() && in.maxLatentPositionId() >= latentCells) {
      throw new IllegalArgumentException("latent position id " + in.maxLatentPositionId() + " >= max_latent_size^2 = "
          + latentCells + " (image larger than max_latent_size * " + cfg.latentDownsample() + " pixels per side?)");
    }
    int vitCells = cfg.vitMaxNumPatchPerSide() * cfg.vitMaxNumPatchPerSide();
    if (cfg.visualUnd() && in.maxVitPositionId() >= vitCells) {
      throw new IllegalArgumentException("ViT position id " + in.maxVitPositionId() + " >= vit_max_num_patch_per_side^2 = "
          + vitCells + " (image larger than vit_max_num_patch_per_side patches per side?)");
    }
  }

  /** sigmoid(logit), then the shift s t / (1 + (s - 1) t); -inf logits (clean conditions) give exactly 0. */
  NDArray shiftedTimesteps(NDArray logits) {
    NDArray t = Torch.adopt(torch.sigmoid(Torch.view(logits.toType(DataType.FLOAT32, false))), logits.getManager());
    double s = cfg.timestepShift();
    return s == 1.0 ? t : t.mul(s).div(t.mul(s - 1).add(1));
  }

  /**
   * Cuts each image's (h*p, w*p) corner out of the padded latent and lays it out token by token: token (i, j)
   * holds the p x p x C values in (p_row, p_col, channel) order, as the reference's einsum chpwq->hwpqc.
   *
   * @param padded (N, C, H, W) @param shapes (h, w) token grid per image, flattened pairs @return (sum hw, p*p*C)
   */
  NDArray patchify(NDArray padded, int[] shapes) {
    int p = cfg.latentPatchSize();
    long c = padded.getShape().get(1);
    if (c != cfg.vae().zChannels()) {
      throw new IllegalArgumentException("padded latent has " + c + " channels, the VAE config " + cfg.vae().zChannels());
    }
    NDList parts = new NDList();
    for (int i = 0; i < shapes.length / 2; i++) {
      int h = shapes[2 * i];
      int w = shapes[2 * i + 1];
      if (h * p > padded.getShape().get(2) || w * p > padded.getShape().get(3)) {
        throw new IllegalArgumentException("latent grid " + h + "x" + w + " (patch " + p + ") exceeds the padded latent "
            + padded.getShape());
      }
      NDArray img = padded.get("{}, :, :{}, :{}", i, h * p, w * p); // (C, h*p, w*p)
      parts.add(img.reshape(new Shape(c, h, p, w, p)).transpose(1, 3, 2, 4, 0).reshape(h * w, p * p * c));
    }
    return parts.size() == 1 ? parts.get(0) : NDArrays.concat(parts, 0);
  }

  /** Copies the understanding weights into the {@code _moe_gen} experts (after loading an LLM checkpoint). */
  public int copyInitMoe() {
    return languageModel.copyInitMoe();
  }

  /** The reference's freeze_llm / freeze_vit: drops gradients of whole components. Returns how many changed. */
  public int freeze(boolean llm, boolean vit) {
    int n = 0;
    if (llm) {
      n += store.setTrainable(name -> name.startsWith("language_model."), false);
    }
    if (vit) {
      n += store.setTrainable(name -> name.startsWith("vit_model."), false);
    }
    return n;
  }

  public void setAttentionKernel(AttentionKernel kernel) {
    this.kernel = Objects.requireNonNull(kernel);
  }

  public AttentionKernel attentionKernel() {
    return kernel;
  }

  /**
   * Activation checkpointing of the decoder layers, the ViT encoder layers and the connector, as the reference
   * wraps them: pass a {@link ai.bakery.model.recompute.SegmentedBackward} per step (then call its backward
   * after {@code backward(loss)}), or {@link SegmentRunner#PLAIN}.
   */
  public void setSegmentRunner(SegmentRunner runner) {
    this.segmentRunner = Objects.requireNonNull(runner);
    languageModel.setSegmentRunner(runner);
    if (vitModel != null) {
      vitModel.setSegmentRunner(runner);
    }
  }

  /** Switches the compute precision of every module (master weights stay fp32). */
  public void setPrecision(Precision p) {
    precision.set(Objects.requireNonNull(p));
  }

  public Precision precision() {
    return precision.get();
  }

  public BagelConfig config() {
    return cfg;
  }

  public ParameterStore store() {
    return store;
  }

  public Qwen2Model languageModel() {
    return languageModel;
  }

  /** The ViT tower, or null without visual_und. */
  public SiglipVisionModel vitModel() {
    return vitModel;
  }
}
