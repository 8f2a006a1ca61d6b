package ai.bakery.runtime.metrics;

import ai.bakery.model.config.LlmConfig;

/**
 * Training FLOPs of the language model as the reference counts them (ViT and VAE excluded): per token
 * {@code 6 * N_dense} for forward and backward through every matmul, plus {@code 12 * head_dim * heads * layers}
 * per pair of tokens attending within a sample, i.e. {@code flops = dense * tokens + attn * sum(len^2)}. A MoT
 * layer counts once: each token passes through one of its two copies.
 *
 * @param denseTokenFactor {@code 6 * N_dense}
 * @param attnFactor {@code 12 * head_dim * heads * layers}
 */
public record FlopCounter(double denseTokenFactor, double attnFactor) {

  public static FlopCounter of(LlmConfig c) {
    long headDim = c.headDim();
    long q = (long) c.numAttentionHeads() * headDim;
    long kv = (long) c.numKeyValueHeads() * headDim;
    double mlp = (double) c.hiddenSize() * c.intermediateSize() * 3;
    double attnLinear = (double) c.hiddenSize() * (q + kv + kv + q);
    double embedAndHead = (double) c.vocabSize() * c.hiddenSize() * 2;
    double dense = (mlp + attnLinear) * c.numHiddenLayers() + embedAndHead;
    return new FlopCounter(6.0 * dense, 12.0 * headDim * c.numAttentionHeads() * c.numHiddenLayers());
  }

  /** FLOPs of training on {@code tokens} tokens whose samples' squared lengths sum to {@code sumSquares}. */
  public double flops(double tokens, double sumSquares) {
    return denseTokenFactor * tokens + attnFactor * sumSquares;
  }
}
