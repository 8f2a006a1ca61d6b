package ai.bakery.model;

import ai.bakery.model.bagel.TimestepEmbedder;
import ai.bakery.model.config.BagelConfig;
import ai.bakery.model.config.LlmConfig;
import ai.bakery.model.config.VaeConfig;
import ai.bakery.model.config.VitConfig;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;

/**
 * Parameter counts of a BAGEL configuration, computed from the configs alone (nothing is allocated), per
 * component:
 * <ul>
 *   <li>{@code languageModelUnd}: embedding, LM head (unless tied), the understanding weights of every layer
 *       and the final norm: everything a text or ViT token passes through in the LLM;
 *   <li>{@code genExperts}: the {@code *_moe_gen} copies (whole layers for MoT, MLPs for MoE) and norm_moe_gen;
 *   <li>{@code vit} (the tower as built), {@code connector}, {@code other} (time embedder, vae2llm, llm2vae);
 *   <li>{@code fixedTables}: the sin-cos position tables (registered, never trained);
 *   <li>{@code vae}: the FLUX autoencoder, a separate frozen model (not in {@code total}).
 * </ul>
 * {@code total} counts the model as the reference's count_parameters does (all of the above but the VAE).
 * {@code activePerToken} is the LLM weights one token uses ({@code languageModelUnd}; the gen path is the
 * same size), the "7B active" of BAGEL-7B-MoT. {@code denseFlopsPerToken} and {@code attnFlopsCoefficient}
 * are the reference trainer's MFU coefficients: 6 * (linear weights of one path + embedding + head) per token,
 * and 12 * head_dim * heads * layers to multiply by sum(len^2) per sample.
 */
public record ModelInfo(
    @JsonProperty("language_model_und") long languageModelUnd,
    @JsonProperty("gen_experts") long genExperts,
    @JsonProperty("vit") long vit,
    @JsonProperty("connector") long connector,
    @JsonProperty("other") long other,
    @JsonProperty("fixed_tables") long fixedTables,
    @JsonProperty("vae") long vae,
    @JsonProperty("total") long total,
    @JsonProperty("active_per_token") long activePerToken,
    @JsonProperty("dense_flops_per_token") double denseFlopsPerToken,
    @JsonProperty("attn_flops_coefficient") double attnFlopsCoefficient) {

  private static final ObjectMapper JSON = new ObjectMapper();

  public static ModelInfo of(BagelConfig cfg) {
    LlmConfig llm = cfg.llm();
    long h = llm.hiddenSize();
    long attnUnd = attention(llm);
    long mlp = 3 * h * llm.intermediateSize();
    long norms = 2 * h;
    long layers = llm.numHiddenLayers();
    long embed = llm.vocabSize() * h;
    long head = llm.tieWordEmbeddings() ? 0 : embed;
    long und = embed + head + layers * (attnUnd + mlp + norms) + h;
    long gen = switch (llm.layerModule()) {
      case QWEN2 -> 0;
      case QWEN2_MOE -> layers * mlp + h;
      case QWEN2_MOT -> layers * (attnUnd + mlp + norms) + h;
    };
    long vit = 0;
    long connector = 0;
    long fixed = 0;
    long other = 0;
    long vae = 0;
    if (cfg.visualUnd()) {
      vit = vit(cfg.vit());
      connector = (long) cfg.vit().hiddenSize() * h + h + h * h + h;
      fixed += (long) cfg.vitMaxNumPatchPerSide() * cfg.vitMaxNumPatchPerSide() * h;
    }
    if (cfg.visualGen()) {
      long d = cfg.patchLatentDim();
      other = TimestepEmbedder.FREQUENCY_DIM * h + h + h * h + h // time_embedder
          + d * h + h // vae2llm
          + h * d + d; // llm2vae
      fixed += (long) cfg.maxLatentSize() * cfg.maxLatentSize() * h;
      vae = vae(cfg.vae());
    }
    long total = und + gen + vit + connector + other + fixed;
    long headDim = llm.headDim();
    long linearPerLayer = h * (llm.numAttentionHeads() * headDim * 2 + llm.numKeyValueHeads() * headDim * 2)
        + 3 * h * llm.intermediateSize();
    double dense = 6.0 * (linearPerLayer * layers + 2 * embed);
    double attnCoef = 12.0 * headDim * llm.numAttentionHeads() * layers;
    return new ModelInfo(und, gen, vit, connector, other, fixed, vae, total, und, dense, attnCoef);
  }

  /** q/k/v with bias, o without, and q_norm/k_norm when qk_norm. */
  static long attention(LlmConfig llm) {
    long h = llm.hiddenSize();
    long d = llm.headDim();
    long q = llm.numAttentionHeads() * d;
    long kv = llm.numKeyValueHeads() * d;
    return (h * q + q) + 2 * (h * kv + kv) + q * h + (llm.qkNorm() ? 2 * d : 0);
  }

  /** SigLIP NaViT: linear patch embedding, learned positions (unless RoPE), layers, post layernorm. */
  static long vit(VitConfig v) {
    long h = v.hiddenSize();
    long i = v.intermediateSize();
    long embed = (long) v.patchDim() * h + h + (v.rope() ? 0 : (long) v.numPositions() * h);
    long layer = 2 * h + 4 * (h * h + h) + 2 * h + (h * i + i) + (i * h + h);
    return embed + v.numHiddenLayers() * layer + 2 * h;
  }

  /** The FLUX autoencoder's encoder and decoder, as the reference's AutoEncoder lays them out. */
  static long vae(VaeConfig c) {
    List<Integer> mult = c.chMult();
    int levels = mult.size();
    long ch = c.ch();
    // encoder
    long n = conv(c.inChannels(), ch, 3);
    long blockIn = ch;
    for (int lvl = 0; lvl < levels; lvl++) {
      blockIn = ch * (lvl == 0 ? 1 : mult.get(lvl - 1));
      long blockOut = ch * mult.get(lvl);
      for (int b = 0; b < c.numResBlocks(); b++) {
        n += resnet(blockIn, blockOut);
        blockIn = blockOut;
      }
      if (lvl != levels - 1) {
        n += conv(blockIn, blockIn, 3);
      }
    }
    n += 2 * resnet(blockIn, blockIn) + attn(blockIn) + 2 * blockIn + conv(blockIn, 2L * c.zChannels(), 3);
    // decoder
    blockIn = ch * mult.get(levels - 1);
    n += conv(c.zChannels(), blockIn, 3) + 2 * resnet(blockIn, blockIn) + attn(blockIn);
    for (int lvl = levels - 1; lvl >= 0; lvl--) {
      long blockOut = ch * mult.get(lvl);
      for (int b = 0; b < c.numResBlocks() + 1; b++) {
        n += resnet(blockIn, blockOut);
        blockIn = blockOut;
      }
      if (lvl != 0) {
        n += conv(blockIn, blockIn, 3);
      }
    }
    return n + 2 * blockIn + conv(blockIn, c.outCh(), 3);
  }

  private static long conv(long in, long out, int k) {
    return out * in * k * k + out;
  }

  private static long resnet(long in, long out) {
    return 2 * in + conv(in, out, 3) + 2 * out + conv(out, out, 3) + (in != out ? conv(in, out, 1) : 0);
  }

  private static long attn(long c) {
    return 2 * c + 4 * conv(c, c, 1);
  }

  public String toJson() {
    try {
      return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(this);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** e.g. "14.14B total, 7.61B active per token". */
  public String summary() {
    return String.format(java.util.Locale.ROOT, "%.2fB total (LLM und %.2fB + gen %.2fB, ViT %.2fB), %.2fB active per "
        + "token, VAE %.1fM", total / 1e9, languageModelUnd / 1e9, genExperts / 1e9, vit / 1e9, activePerToken / 1e9,
        vae / 1e6);
  }
}
