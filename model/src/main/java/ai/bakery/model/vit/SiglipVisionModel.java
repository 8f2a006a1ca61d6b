package ai.bakery.model.vit;

import ai.bakery.model.attention.AttentionKernel;
import ai.bakery.model.attention.AttnMode;
import ai.bakery.model.attention.PackLayout;
import ai.bakery.model.config.VitConfig;
import ai.bakery.model.nn.Embedding;
import ai.bakery.model.nn.Init;
import ai.bakery.model.nn.LayerNorm;
import ai.bakery.model.nn.Linear;
import ai.bakery.model.nn.Rope;
import ai.bakery.model.recompute.SegmentRunner;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * SigLIP NaViT over a pack of variable-size images: patches come pre-flattened in (row, col, channel) order
 * (3*p*p values each), the patch embedding is the linear form of the conv ({@code patch_embedding.weight}
 * (hidden, 3*p*p)), positions are the packed ids row*side+col into a learned table (or 2-D RoPE when
 * {@code rope}), and attention is bidirectional within each image only. The layer count is taken from
 * {@code cfg} as given: build with {@code cfg.keepingLayersFor(vit_select_layer)} to match the reference.
 *
 * <p>Names (prefix {@code vit_model}): {@code vit_model.vision_model.embeddings.patch_embedding.*},
 * {@code ...embeddings.position_embedding.weight}, {@code ...encoder.layers.i.*}, {@code ...post_layernorm.*}.
 */
public final class SiglipVisionModel {
  private final VitConfig cfg;
  private final Linear patchEmbedding;
  private final Embedding positionEmbedding;
  private final Rope rope;
  private final List<SiglipEncoderLayer> layers = new ArrayList<>();
  private final LayerNorm postLayernorm;
  private final AttentionKernel kernel;
  private SegmentRunner segmentRunner = SegmentRunner.PLAIN;

  public SiglipVisionModel(VitConfig cfg, ParameterStore store, String prefix) {
    this(cfg, store, prefix, Init.forLoading(), Precision.FP32, new PerImageAttention());
  }

  public SiglipVisionModel(VitConfig cfg, ParameterStore store, String prefix, Init init, Precision precision) {
    this(cfg, store, prefix, init, precision, new PerImageAttention());
  }

  /** @param kernel attention core; it gets one FULL split per image and must keep images apart */
  public SiglipVisionModel(VitConfig cfg, ParameterStore store, String prefix, Init init, Precision precision,
      AttentionKernel kernel) {
    this.cfg = cfg;
    this.kernel = kernel;
    String base = prefix + ".vision_model";
    int h = cfg.hiddenSize();
    patchEmbedding = new Linear(store, base + ".embeddings.patch_embedding", cfg.patchDim(), h, true, init, precision);
    if (cfg.rope()) {
      positionEmbedding = null;
      rope = new Rope(cfg.headDim() / 2, 10000.0);
    } else {
      positionEmbedding = new Embedding(store, base + ".embeddings.position_embedding", cfg.numPositions(), h, init,
          1.0 / Math.sqrt(h), precision);
      rope = null;
    }
    for (int i = 0; i < cfg.numHiddenLayers(); i++) {
      layers.add(new SiglipEncoderLayer(cfg, store, base + ".encoder.layers." + i, init, precision));
    }
    postLayernorm = new LayerNorm(store, base + ".post_layernorm", h, cfg.layerNormEps(), precision);
  }

  /**
   * @param packedPixelValues (N, 3*p*p) patches of all images, image after image
   * @param packedPositionIds (N) row*side+col per patch, side = image_size / patch_size
   * @param seqLens patches per image, summing to N
   * @return (N, hidden) last kept layer after post_layernorm
   */
  public NDArray forward(NDArray packedPixelValues, NDArray packedPositionIds, int[] seqLens) {
    long n = packedPixelValues.getShape().get(0);
    if (packedPixelValues.getShape().dimension() != 2 || packedPixelValues.getShape().get(1) != cfg.patchDim()) {
      throw new IllegalArgumentException("vit: packed pixel values " + packedPixelValues.getShape() + " are not (N, "
          + cfg.patchDim() + ")");
    }
    if (packedPositionIds.getShape().size() != n || Arrays.stream(seqLens).asLongStream().sum() != n) {
      throw new IllegalArgumentException("vit: " + n + " patches, " + packedPositionIds.getShape().size()
          + " position ids, vit_token_seqlens sum " + Arrays.stream(seqLens).asLongStream().sum());
    }
    long[] ids = packedPositionIds.toType(DataType.INT64, false).toLongArray();
    for (long id : ids) {
      if (id < 0 || id >= cfg.numPositions()) {
        throw new IllegalArgumentException("vit: position id " + id + " outside the " + cfg.numPositions()
            + "-entry table (" + cfg.numPatchesPerSide() + " patches per side; image larger than image_size "
            + cfg.imageSize() + "?)");
      }
    }
    AttnMode[] modes = new AttnMode[seqLens.length];
    Arrays.fill(modes, AttnMode.FULL);
    PackLayout images = new PackLayout(seqLens, seqLens, modes);

    NDArray x = patchEmbedding.forward(packedPixelValues); // (N, hidden)
    Rope.Table rows = null;
    Rope.Table cols = null;
    if (rope != null) {
      int side = cfg.numPatchesPerSide();
      long[] r = new long[ids.length];
      long[] c = new long[ids.length];
      for (int i = 0; i < ids.length; i++) {
        r[i] = ids[i] / side;
        c[i] = ids[i] % side;
      }
      rows = rope.table(packedPositionIds.getManager().create(r));
      cols = rope.table(packedPositionIds.getManager().create(c));
    } else {
      x = x.add(positionEmbedding.forward(packedPositionIds));
    }
    Rope.Table rowTable = rows;
    Rope.Table colTable = cols;
    List<UnaryOperator<NDArray>> segments = new ArrayList<>(layers.size());
    for (SiglipEncoderLayer layer : layers) {
      segments.add(h -> layer.forward(h, images, kernel, rope, rowTable, colTable));
    }
    x = segmentRunner.run(segments, x); // plain, or activation recompute per layer
    return postLayernorm.forward(x);
  }

  /** How the encoder layers run: {@link SegmentRunner#PLAIN} or activation recompute (one segment per layer). */
  public void setSegmentRunner(SegmentRunner runner) {
    this.segmentRunner = java.util.Objects.requireNonNull(runner);
  }

  public VitConfig config() {
    return cfg;
  }

  public int numLayers() {
    return layers.size();
  }
}
