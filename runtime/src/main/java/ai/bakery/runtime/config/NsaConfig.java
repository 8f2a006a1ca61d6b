package ai.bakery.runtime.config;

import ai.bakery.model.config.ConfigException;
import java.util.List;
import java.util.Set;

/**
 * Native Sparse Attention settings, LMMS Engine's {@code model_config.monkey_patch_kwargs} with
 * {@code patch_type: [nsa]}. Defaults are the ones LMMS Engine documents.
 */
public record NsaConfig(
    List<String> patchType,
    int blockSize,
    String compressType,
    int kernelSize,
    int kernelStride,
    int topk,
    int initBlocks,
    int localBlocks,
    int windowSize) {

  public static final Set<String> COMPRESS_TYPES = Set.of("weightedpool", "linear", "avgpool");
  public static final NsaConfig DEFAULTS = new NsaConfig(List.of("nsa"), 64, "weightedpool", 32, 16, 16, 1, 2, 512);

  public NsaConfig {
    String at = "model.nsa.";
    patchType = patchType == null ? List.of("nsa") : List.copyOf(patchType);
    for (String p : patchType) {
      Checks.oneOf(at + "patch_type", p, Set.of("nsa"));
    }
    Checks.positive(at + "block_size", blockSize);
    Checks.oneOf(at + "compress_type", compressType, COMPRESS_TYPES);
    Checks.positive(at + "kernel_size", kernelSize);
    Checks.positive(at + "kernel_stride", kernelStride);
    Checks.positive(at + "topk", topk);
    Checks.nonNegative(at + "init_blocks", initBlocks);
    Checks.nonNegative(at + "local_blocks", localBlocks);
    Checks.positive(at + "window_size", windowSize);
    if (kernelStride > kernelSize) {
      throw new ConfigException(at + "kernel_stride (" + kernelStride + ") must be <= kernel_size (" + kernelSize
          + "): compressed windows would leave gaps");
    }
    if (blockSize % kernelStride != 0) {
      throw new ConfigException(at + "block_size (" + blockSize + ") must be a multiple of kernel_stride ("
          + kernelStride + ") so compressed scores map onto selection blocks");
    }
    if (initBlocks + localBlocks > topk) {
      throw new ConfigException(at + "topk (" + topk + ") must cover init_blocks + local_blocks ("
          + (initBlocks + localBlocks) + ")");
    }
  }
}
