package ai.bakery.model.attention;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * Native Sparse Attention options as LMMS Engine's {@code monkey_patch_kwargs} carry them
 * ({@code patch_type: [nsa]}, ...). Defaults are LMMS Engine's. Validation names the bad field.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record NsaConfig(
    @JsonProperty("patch_type") List<String> patchType,
    @JsonProperty("block_size") Integer blockSize,
    @JsonProperty("compress_type") String compressType,
    @JsonProperty("kernel_size") Integer kernelSize,
    @JsonProperty("kernel_stride") Integer kernelStride,
    @JsonProperty("topk") Integer topk,
    @JsonProperty("init_blocks") Integer initBlocks,
    @JsonProperty("local_blocks") Integer localBlocks,
    @JsonProperty("window_size") Integer windowSize) {

  /** How a window of kernel_size keys (or values) becomes one compressed key. */
  public enum Compression { WEIGHTEDPOOL, LINEAR, AVGPOOL }

  public NsaConfig {
    patchType = patchType == null ? List.of("nsa") : List.copyOf(patchType);
    blockSize = blockSize == null ? 64 : blockSize;
    compressType = compressType == null ? "weightedpool" : compressType;
    kernelSize = kernelSize == null ? 32 : kernelSize;
    kernelStride = kernelStride == null ? 16 : kernelStride;
    topk = topk == null ? 16 : topk;
    initBlocks = initBlocks == null ? 1 : initBlocks;
    localBlocks = localBlocks == null ? 2 : localBlocks;
    windowSize = windowSize == null ? 512 : windowSize;
    if (!patchType.contains("nsa")) {
      throw new IllegalArgumentException("monkey_patch_kwargs.patch_type " + patchType + " does not name nsa");
    }
    positive("block_size", blockSize);
    positive("kernel_size", kernelSize);
    positive("kernel_stride", kernelStride);
    positive("topk", topk);
    positive("window_size", windowSize);
    if (initBlocks < 0 || localBlocks < 0) {
      throw new IllegalArgumentException("monkey_patch_kwargs.init_blocks/local_blocks must be >= 0, got "
          + initBlocks + "/" + localBlocks);
    }
    if (topk < initBlocks + Math.max(localBlocks, 1)) {
      throw new IllegalArgumentException("monkey_patch_kwargs.topk " + topk + " must be >= init_blocks + local_blocks ("
          + initBlocks + " + " + Math.max(localBlocks, 1) + "): those blocks are always selected");
    }
    if (kernelSize % kernelStride != 0) {
      throw new IllegalArgumentException("monkey_patch_kwargs.kernel_size " + kernelSize
          + " must be a multiple of kernel_stride " + kernelStride);
    }
    if (blockSize % kernelStride != 0 || blockSize < kernelSize) {
      throw new IllegalArgumentException("monkey_patch_kwargs.block_size " + blockSize
          + " must be a multiple of kernel_stride " + kernelStride + " and >= kernel_size " + kernelSize);
    }
    compression(compressType);
  }

  /** LMMS Engine's defaults. */
  public static NsaConfig defaults() {
    return new NsaConfig(null, null, null, null, null, null, null, null, null);
  }

  public Compression compression() {
    return compression(compressType);
  }

  private static Compression compression(String name) {
    return switch (name) {
      case "weightedpool" -> Compression.WEIGHTEDPOOL;
      case "linear" -> Compression.LINEAR;
      case "avgpool" -> Compression.AVGPOOL;
      default -> throw new IllegalArgumentException("monkey_patch_kwargs.compress_type '" + name
          + "' (weightedpool, linear, avgpool)");
    };
  }

  private static void positive(String field, int v) {
    if (v <= 0) {
      throw new IllegalArgumentException("monkey_patch_kwargs." + field + " must be > 0, got " + v);
    }
  }
}
