package ai.bakery.model.bagel;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Builds a packed batch by hand the way the reference packer lays one out (markers, RoPE ids, CE shift, MSE
 * positions), for tests. Latents and ViT patches are random but seeded.
 */
final class PackBuilder {
  static final int BOS = 60;
  static final int EOS = 61;
  static final int VISION_START = 62;
  static final int VISION_END = 63;

  private final int latentChannels;
  private final int latentPatch;
  private final int maxLatentSize;
  private final int vitPatchDim;
  private final int vitMaxSide;
  private final Random rng;

  private final List<Integer> sampleLens = new ArrayList<>();
  private final List<Integer> splitLens = new ArrayList<>();
  private final List<String> modes = new ArrayList<>();
  private final List<Integer> textIds = new ArrayList<>();
  private final List<Integer> textIdx = new ArrayList<>();
  private final List<Integer> positions = new ArrayList<>();
  private final List<Integer> latentShapes = new ArrayList<>();
  private final List<Integer> latentPos = new ArrayList<>();
  private final List<Integer> vaeIdx = new ArrayList<>();
  private final List<Float> timesteps = new ArrayList<>();
  private final List<Integer> mseIdx = new ArrayList<>();
  private final List<Float> vitTokens = new ArrayList<>();
  private final List<Integer> vitPos = new ArrayList<>();
  private final List<Integer> vitIdx = new ArrayList<>();
  private final List<Integer> vitSeqlens = new ArrayList<>();
  private final List<Integer> labels = new ArrayList<>();
  private final List<Integer> ceIdx = new ArrayList<>();
  private final List<Float> ceWeights = new ArrayList<>();
  private final List<float[]> latents = new ArrayList<>(); // (C, h*p, w*p) per image

  private int curr;
  private int rope;
  private int sampleStart;

  PackBuilder(int latentChannels, int latentPatch, int maxLatentSize, int vitPatchDim, int vitMaxSide, long seed) {
    this.latentChannels = latentChannels;
    this.latentPatch = latentPatch;
    this.maxLatentSize = maxLatentSize;
    this.vitPatchDim = vitPatchDim;
    this.vitMaxSide = vitMaxSide;
    this.rng = new Random(seed);
  }

  PackBuilder sample() {
    if (curr > sampleStart) {
      sampleLens.add(curr - sampleStart);
    }
    sampleStart = curr;
    rope = 0;
    return this;
  }

  /** [bos] + ids + [eos], causal; with loss, labels are ids + [eos] at the positions of [bos] + ids. */
  PackBuilder text(boolean loss, int... ids) {
    int start = curr;
    text(BOS);
    for (int id : ids) {
      text(id);
    }
    if (loss) {
      for (int i = 0; i <= ids.length; i++) {
        ceIdx.add(start + i);
        labels.add(i < ids.length ? ids[i] : EOS);
        ceWeights.add(1f);
      }
    }
    text(EOS);
    for (int i = 0; i < ids.length + 2; i++) {
      positions.add(rope + i);
    }
    rope += ids.length + 2;
    split(ids.length + 2, "causal");
    return this;
  }

  /** [vision_start] + h*w patches + [vision_end], full, one RoPE id. */
  PackBuilder vit(int h, int w) {
    text(VISION_START);
    for (int i = 0; i < h; i++) {
      for (int j = 0; j < w; j++) {
        vitIdx.add(curr++);
        vitPos.add(i * vitMaxSide + j);
        for (int k = 0; k < vitPatchDim; k++) {
          vitTokens.add((float) rng.nextGaussian());
        }
      }
    }
    vitSeqlens.add(h * w);
    text(VISION_END);
    for (int i = 0; i < h * w + 2; i++) {
      positions.add(rope);
    }
    rope += 1;
    split(h * w + 2, "full");
    return this;
  }

  /** A VAE image of h x w latent tokens: noised target (loss, logit t) or clean condition (logit null). */
  PackBuilder vae(int h, int w, Float logit) {
    text(VISION_START);
    int p = latentPatch;
    float[] lat = new float[latentChannels * h * p * w * p];
    for (int i = 0; i < lat.length; i++) {
      lat[i] = (float) rng.nextGaussian();
    }
    latents.add(lat);
    latentShapes.add(h);
    latentShapes.add(w);
    for (int i = 0; i < h; i++) {
      for (int j = 0; j < w; j++) {
        vaeIdx.add(curr);
        latentPos.add(i * maxLatentSize + j);
        timesteps.add(logit == null ? Float.NEGATIVE_INFINITY : logit);
        if (logit != null) {
          mseIdx.add(curr);
        }
        curr++;
      }
    }
    text(VISION_END);
    for (int i = 0; i < h * w + 2; i++) {
      positions.add(rope);
    }
    if (logit == null) {
      rope += 1;
    }
    split(h * w + 2, logit == null ? "full" : "noise");
    return this;
  }

  private void text(int id) {
    textIds.add(id);
    textIdx.add(curr++);
  }

  private void split(int len, String mode) {
    splitLens.add(len);
    modes.add(mode);
  }

  /** The padded latent (N, C, Hmax, Wmax): each image top-left, zeros elsewhere. */
  NDArray paddedLatent(NDManager m) {
    int p = latentPatch;
    int hMax = 0;
    int wMax = 0;
    for (int i = 0; i < latents.size(); i++) {
      hMax = Math.max(hMax, latentShapes.get(2 * i) * p);
      wMax = Math.max(wMax, latentShapes.get(2 * i + 1) * p);
    }
    float[] out = new float[latents.size() * latentChannels * hMax * wMax];
    for (int n = 0; n < latents.size(); n++) {
      int hh = latentShapes.get(2 * n) * p;
      int ww = latentShapes.get(2 * n + 1) * p;
      for (int c = 0; c < latentChannels; c++) {
        for (int y = 0; y < hh; y++) {
          for (int x = 0; x < ww; x++) {
            out[((n * latentChannels + c) * hMax + y) * wMax + x] = latents.get(n)[(c * hh + y) * ww + x];
          }
        }
      }
    }
    return m.create(out, new Shape(latents.size(), latentChannels, hMax, wMax));
  }

  /** The clean latent tokens as the reference patchifies them, (VAE tokens, p*p*C), in pack order. */
  float[][] cleanTokens() {
    int p = latentPatch;
    List<float[]> rows = new ArrayList<>();
    for (int n = 0; n < latents.size(); n++) {
      int h = latentShapes.get(2 * n);
      int w = latentShapes.get(2 * n + 1);
      float[] lat = latents.get(n);
      for (int i = 0; i < h; i++) {
        for (int j = 0; j < w; j++) {
          float[] row = new float[p * p * latentChannels];
          int k = 0;
          for (int pr = 0; pr < p; pr++) {
            for (int pc = 0; pc < p; pc++) {
              for (int c = 0; c < latentChannels; c++) {
                row[k++] = lat[(c * h * p + i * p + pr) * w * p + j * p + pc];
              }
            }
          }
          rows.add(row);
        }
      }
    }
    return rows.toArray(float[][]::new);
  }

  BagelInputs build(NDManager m) {
    sample();
    return BagelInputs.of(m, curr, ints(sampleLens), ints(splitLens), modes.toArray(String[]::new), ints(textIds),
        ints(textIdx), ints(positions), latents.isEmpty() ? null : paddedLatent(m), ints(latentShapes),
        ints(latentPos), ints(vaeIdx), floats(timesteps), ints(mseIdx), floats(vitTokens), vitPatchDim, ints(vitPos),
        ints(vitIdx), ints(vitSeqlens), ints(labels), ints(ceIdx), floats(ceWeights));
  }

  /** Logits of the noised VAE tokens, in pack order. */
  float[] timestepLogits() {
    return floats(timesteps);
  }

  static int[] ints(List<Integer> l) {
    return l.stream().mapToInt(Integer::intValue).toArray();
  }

  static float[] floats(List<Float> l) {
    float[] out = new float[l.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = l.get(i);
    }
    return out;
  }
}
