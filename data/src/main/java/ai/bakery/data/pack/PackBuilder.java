package ai.bakery.data.pack;

import ai.bakery.data.plan.PlannedSample;
import ai.bakery.data.plan.PlannedSplit;
import java.util.ArrayList;
import java.util.List;

/**
 * Accumulates planned samples into one pack and emits the reference's packed-batch keys: the second half of
 * {@code pack_sequence} (indexes offset by the pack's running length) and {@code to_tensor} (VAE images
 * padded to the largest). Used by every packing strategy; reusable after {@link #build()}.
 */
public final class PackBuilder {
  private final int visionStart;
  private final int visionEnd;
  private int curr;
  private final IntList sampleLens = new IntList();
  private final IntList splitLens = new IntList();
  private final List<String> attnModes = new ArrayList<>();
  private final IntList textIds = new IntList();
  private final IntList textIndexes = new IntList();
  private final IntList positionIds = new IntList();
  private final List<PlannedSplit.Vae> vaeImages = new ArrayList<>();
  private final IntList latentShapes = new IntList();
  private final IntList latentPositionIds = new IntList();
  private final IntList vaeTokenIndexes = new IntList();
  private final FloatList timesteps = new FloatList();
  private final IntList mseIndexes = new IntList();
  private final List<float[]> vitTokens = new ArrayList<>();
  private int vitPatchDim;
  private final IntList vitPositionIds = new IntList();
  private final IntList vitTokenIndexes = new IntList();
  private final IntList vitSeqlens = new IntList();
  private final IntList labelIds = new IntList();
  private final IntList ceIndexes = new IntList();
  private final FloatList ceWeights = new FloatList();
  private final List<String> keys = new ArrayList<>();

  /** The ids of {@code <|vision_start|>} and {@code <|vision_end|>}, which wrap every image split. */
  public PackBuilder(int visionStart, int visionEnd) {
    this.visionStart = visionStart;
    this.visionEnd = visionEnd;
  }

  /** Tokens packed so far (the reference's {@code sequence_status['curr']}). */
  public int tokens() {
    return curr;
  }

  public int samples() {
    return keys.size();
  }

  public boolean isEmpty() {
    return keys.isEmpty();
  }

  public void add(PlannedSample sample) {
    int start = curr;
    for (PlannedSplit split : sample.splits()) {
      if (split instanceof PlannedSplit.Text t) {
        addText(t);
      } else if (split instanceof PlannedSplit.Vit v) {
        addVit(v);
      } else {
        addVae((PlannedSplit.Vae) split);
      }
      splitLens.add(split.length());
      attnModes.add(split.attnMode());
    }
    sampleLens.add(curr - start);
    keys.add(sample.key());
  }

  private void addText(PlannedSplit.Text t) {
    int[] ids = t.tokenIds();
    for (int i = 0; i < ids.length; i++) {
      textIds.add(ids[i]);
      textIndexes.add(curr + i);
      positionIds.add(t.firstPosition() + i);
    }
    if (t.labelIds() != null) {
      int[] labels = t.labelIds();
      for (int i = 0; i < labels.length; i++) {
        ceIndexes.add(curr + i);
        labelIds.add(labels[i]);
        ceWeights.add(t.ceWeight());
      }
    }
    curr += ids.length;
  }

  private void addVit(PlannedSplit.Vit v) {
    if (vitPatchDim != 0 && vitPatchDim != v.patchDim()) {
      throw new IllegalArgumentException("ViT patch dims differ within a pack: " + vitPatchDim + " vs " + v.patchDim());
    }
    vitPatchDim = v.patchDim();
    int n = v.numPatches();
    marker(visionStart, v.position());
    for (int i = 0; i < n; i++) {
      vitTokenIndexes.add(curr + i);
      positionIds.add(v.position());
    }
    vitPositionIds.addAll(v.vitPositionIds());
    vitTokens.add(v.patches());
    vitSeqlens.add(n);
    curr += n;
    marker(visionEnd, v.position());
  }

  private void addVae(PlannedSplit.Vae v) {
    int n = v.numLatents();
    marker(visionStart, v.position());
    vaeImages.add(v);
    latentShapes.add(v.latentH());
    latentShapes.add(v.latentW());
    latentPositionIds.addAll(v.latentPositionIds());
    for (int i = 0; i < n; i++) {
      vaeTokenIndexes.add(curr + i);
      timesteps.add(v.timestep());
      positionIds.add(v.position());
      if (v.noise()) {
        mseIndexes.add(curr + i);
      }
    }
    curr += n;
    marker(visionEnd, v.position());
  }

  private void marker(int tokenId, int position) {
    textIds.add(tokenId);
    textIndexes.add(curr);
    positionIds.add(position);
    curr += 1;
  }

  /** The pack so far as a {@link PackedBatch}; then the builder is empty again. */
  public PackedBatch build() {
    int[] paddedShape;
    float[] padded;
    if (vaeImages.isEmpty()) {
      paddedShape = new int[] {0, 3, 0, 0};
      padded = new float[0];
    } else {
      int maxH = 0;
      int maxW = 0;
      for (PlannedSplit.Vae v : vaeImages) {
        maxH = Math.max(maxH, v.height());
        maxW = Math.max(maxW, v.width());
      }
      paddedShape = new int[] {vaeImages.size(), 3, maxH, maxW};
      padded = new float[vaeImages.size() * 3 * maxH * maxW];
      for (int i = 0; i < vaeImages.size(); i++) {
        PlannedSplit.Vae v = vaeImages.get(i);
        for (int c = 0; c < 3; c++) {
          for (int y = 0; y < v.height(); y++) {
            System.arraycopy(v.pixels(), (c * v.height() + y) * v.width(), padded,
                ((i * 3 + c) * maxH + y) * maxW, v.width());
          }
        }
      }
    }
    int vitCount = 0;
    for (float[] t : vitTokens) {
      vitCount += t.length;
    }
    float[] vit = new float[vitCount];
    int at = 0;
    for (float[] t : vitTokens) {
      System.arraycopy(t, 0, vit, at, t.length);
      at += t.length;
    }
    PackedBatch batch = new PackedBatch(curr, sampleLens.toArray(), splitLens.toArray(),
        attnModes.toArray(String[]::new), textIds.toArray(), textIndexes.toArray(), positionIds.toArray(), padded,
        paddedShape, latentShapes.toArray(), latentPositionIds.toArray(), vaeTokenIndexes.toArray(),
        timesteps.toArray(), mseIndexes.toArray(), vit, vitPatchDim, vitPositionIds.toArray(),
        vitTokenIndexes.toArray(), vitSeqlens.toArray(), labelIds.toArray(), ceIndexes.toArray(),
        ceWeights.toArray(), keys.toArray(String[]::new));
    reset();
    return batch;
  }

  private void reset() {
    curr = 0;
    sampleLens.clear();
    splitLens.clear();
    attnModes.clear();
    textIds.clear();
    textIndexes.clear();
    positionIds.clear();
    vaeImages.clear();
    latentShapes.clear();
    latentPositionIds.clear();
    vaeTokenIndexes.clear();
    timesteps.clear();
    mseIndexes.clear();
    vitTokens.clear();
    vitPatchDim = 0;
    vitPositionIds.clear();
    vitTokenIndexes.clear();
    vitSeqlens.clear();
    labelIds.clear();
    ceIndexes.clear();
    ceWeights.clear();
    keys.clear();
  }

  /** A growable int array. */
  static final class IntList {
    private int[] data = new int[64];
    private int size;

    void add(int v) {
      if (size == data.length) {
        data = java.util.Arrays.copyOf(data, size * 2);
      }
      data[size++] = v;
    }

    void addAll(int[] vs) {
      for (int v : vs) {
        add(v);
      }
    }

    int[] toArray() {
      return java.util.Arrays.copyOf(data, size);
    }

    void clear() {
      size = 0;
    }
  }

  /** A growable float array. */
  static final class FloatList {
    private float[] data = new float[64];
    private int size;

    void add(float v) {
      if (size == data.length) {
        data = java.util.Arrays.copyOf(data, size * 2);
      }
      data[size++] = v;
    }

    float[] toArray() {
      return java.util.Arrays.copyOf(data, size);
    }

    void clear() {
      size = 0;
    }
  }
}
