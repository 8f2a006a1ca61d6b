package ai.bakery.data.plan;

import ai.bakery.data.DataConfig;
import ai.bakery.data.DataRandom;
import ai.bakery.data.image.VitPatchifier;
import ai.bakery.data.sample.Sample;
import ai.bakery.data.sample.SampleItem;
import ai.bakery.data.source.SkipCounter;
import ai.bakery.data.source.SkipReason;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Turns a {@link Sample} into its sequence plan exactly as BAGEL's {@code PackedDataset.pack_sequence} lays it
 * out, so the packer only concatenates:
 *
 * <ul>
 *   <li>text: {@code [bos] + ids + [eos]}, causal, RoPE +1 per token; with loss, the bos..last-id positions
 *       predict {@code ids + [eos]} (the eos token itself predicts nothing);
 *   <li>ViT image: vision_start, patches, vision_end; full; one RoPE id, then RoPE +1;
 *   <li>VAE image: the same markers around one token per latent cell; a target is {@code noise} with a randn
 *       timestep logit and does <em>not</em> advance RoPE (the next split shares its id); a clean condition
 *       is {@code full} with timestep -inf and advances RoPE by 1.
 * </ul>
 *
 * An image item plays its roles in the reference's order: target, clean VAE condition, ViT. CFG dropout
 * skips a droppable split (a dropped image still advances RoPE by 1, a dropped text does not), drawn from a
 * generator seeded by (seed, sample key) so a sample plans the same on any rank or after a resume. Images
 * whose latent or ViT grid is larger than the model's position tables are skipped here and counted.
 */
public final class SequencePlanner {
  private final DataConfig config;
  private final SpecialTokens tokens;
  private final TextEncoder encoder;
  private final ImagePreparer vaeTransform;
  private final ImagePreparer vitTransform;
  private final VitPatchifier vit;
  private final VitPatchifier latentGrid;

  /**
   * @param vaeTransform the group's {@code image_transform_args} transform (stride = vae_image_downsample)
   * @param vitTransform the group's {@code vit_image_transform_args} transform, or its image transform when
   *     it has none (VLM groups)
   */
  public SequencePlanner(DataConfig config, SpecialTokens tokens, TextEncoder encoder, ImagePreparer vaeTransform,
      ImagePreparer vitTransform) {
    this.config = Objects.requireNonNull(config, "config");
    this.tokens = Objects.requireNonNull(tokens, "tokens");
    this.encoder = Objects.requireNonNull(encoder, "encoder");
    this.vaeTransform = Objects.requireNonNull(vaeTransform, "vaeTransform");
    this.vitTransform = Objects.requireNonNull(vitTransform, "vitTransform");
    this.vit = new VitPatchifier(config.vitPatchSize(), config.vitMaxNumPatchPerSide());
    // latent position ids follow the same grid rule: one cell per downsample x downsample pixels
    this.latentGrid = new VitPatchifier(config.vaeImageDownsample(), config.maxLatentSize());
  }

  /**
   * Plans one sample.
   *
   * @param seed the run's data seed combined with the read pass, so a repeated pass draws new dropout
   * @return empty when the sample is skipped (counted in {@code skips} with its reason)
   */
  public Optional<PlannedSample> plan(Sample sample, long seed, SkipCounter skips) {
    DataRandom rng = new DataRandom(DataRandom.hash(seed, sample.key()));
    boolean generates = false;
    boolean hasLoss = false;
    int images = 0;
    for (SampleItem item : sample.items()) {
      if (item instanceof SampleItem.Image image) {
        images++;
        generates |= image.vaeTarget();
        hasLoss |= image.vaeTarget();
      } else if (item instanceof SampleItem.Text text) {
        hasLoss |= text.loss();
      }
    }
    if (!hasLoss) {
      skips.skip(SkipReason.NO_LOSS, sample.key(), "no text with loss and no generation target");
      return Optional.empty();
    }

    // the reference shares max_pixels among a VLM sample's images; generation samples transform each image alone
    int pixelShare = generates ? 1 : Math.max(1, images);
    List<PlannedSplit> splits = new ArrayList<>();
    int rope = 0;
    int cost = 0;
    for (SampleItem item : sample.items()) {
      if (item instanceof SampleItem.Text text) {
        int[] ids = encoder.encode(text.text());
        if (ids.length == 0) {
          continue; // the reference plans no split for text that tokenises to nothing
        }
        cost += ids.length + 2;
        if (text.droppable() && rng.nextDouble() < config.textCondDropoutProb()) {
          continue;
        }
        PlannedSplit.Text split = textSplit(ids, rope, text.loss());
        splits.add(split);
        rope += split.length();
        continue;
      }
      SampleItem.Image image = (SampleItem.Image) item;
      BufferedImage pixels;
      try {
        pixels = image.source().load();
      } catch (NoSuchFileException e) {
        skips.skip(SkipReason.MISSING_IMAGE, sample.key(), image.source().describe() + ": " + e.getMessage());
        return Optional.empty();
      } catch (IOException | RuntimeException e) {
        skips.skip(SkipReason.CORRUPT_IMAGE, sample.key(), image.source().describe() + ": " + e.getMessage());
        return Optional.empty();
      }
      if (image.vaeTarget() || image.vaeCondition()) {
        PreparedImage vae = vaeTransform.prepare(pixels, pixelShare);
        int latentH = vae.height() / config.vaeImageDownsample();
        int latentW = vae.width() / config.vaeImageDownsample();
        if (latentH > config.maxLatentSize() || latentW > config.maxLatentSize()) {
          skips.skip(SkipReason.LATENT_TOO_LARGE, sample.key(), image.source().describe() + " gives a " + latentH
              + " x " + latentW + " latent grid; max_latent_size is " + config.maxLatentSize());
          return Optional.empty();
        }
        int[] latentPositions = positionIds(latentGrid, latentH, latentW);
        if (image.vaeTarget()) {
          cost += latentH * latentW + 2;
          float timestep = (float) rng.nextGaussian();
          splits.add(new PlannedSplit.Vae(rope, vae.height(), vae.width(), vae.chw(), latentH, latentW,
              latentPositions, true, timestep));
          // a noised target does not advance RoPE: the next split shares its id
        }
        if (image.vaeCondition()) {
          cost += latentH * latentW + 2;
          if (rng.nextDouble() >= config.vaeCondDropoutProb()) {
            splits.add(new PlannedSplit.Vae(rope, vae.height(), vae.width(), vae.chw(), latentH, latentW,
                latentPositions, false, Float.NEGATIVE_INFINITY));
          }
          rope += 1;
        }
      }
      if (image.vit()) {
        PreparedImage vitImage = vitTransform.prepare(pixels, pixelShare);
        int patch = config.vitPatchSize();
        if (vitImage.height() % patch != 0 || vitImage.width() % patch != 0) {
          throw new IllegalStateException("the ViT image transform gave " + vitImage.height() + " x "
              + vitImage.width()
              + " pixels, not a multiple of vit_patch_size " + patch + ": set its image_stride to " + patch);
        }
        int gridH = vitImage.height() / patch;
        int gridW = vitImage.width() / patch;
        if (gridH > config.vitMaxNumPatchPerSide() || gridW > config.vitMaxNumPatchPerSide()) {
          skips.skip(SkipReason.VIT_GRID_TOO_LARGE, sample.key(), image.source().describe() + " gives a " + gridH
              + " x " + gridW + " patch grid; vit_max_num_patch_per_side is " + config.vitMaxNumPatchPerSide());
          return Optional.empty();
        }
        cost += gridH * gridW + 2;
        boolean droppable = generates; // ViT inputs are CFG conditions only of generation samples
        if (!droppable || rng.nextDouble() >= config.vitCondDropoutProb()) {
          splits.add(new PlannedSplit.Vit(rope, gridH, gridW, vit.patchify(vitImage), vit.patchDim(),
              positionIds(vit, gridH, gridW)));
        }
        rope += 1;
      }
    }
    return Optional.of(new PlannedSample(sample.key(), cost, splits));
  }

  private PlannedSplit.Text textSplit(int[] ids, int rope, boolean loss) {
    int[] shifted = new int[ids.length + 2];
    shifted[0] = tokens.bos();
    System.arraycopy(ids, 0, shifted, 1, ids.length);
    shifted[ids.length + 1] = tokens.eos();
    if (!loss) {
      return new PlannedSplit.Text(shifted, rope, null, 0f);
    }
    int[] labels = new int[ids.length + 1];
    System.arraycopy(ids, 0, labels, 0, ids.length);
    labels[ids.length] = tokens.eos();
    return new PlannedSplit.Text(shifted, rope, labels, len2weight(labels.length, config.ceLossWeighting()));
  }

  /** The reference's len2weight: CE weight of each of {@code n} label tokens of one text split. */
  public static float len2weight(int n, String reduction) {
    if (n == 0) {
      return 0f;
    }
    return switch (reduction) {
      case "token" -> 1f;
      case "sample" -> 1f / n;
      case "square" -> (float) (1.0 / Math.sqrt(n));
      default -> throw new IllegalArgumentException("unknown ce_loss_weighting " + reduction);
    };
  }

  private int[] positionIds(VitPatchifier grid, int gridH, int gridW) {
    return config.interpolatePos() ? grid.interpolatedPositionIds(gridH, gridW) : grid.positionIds(gridH, gridW);
  }
}
