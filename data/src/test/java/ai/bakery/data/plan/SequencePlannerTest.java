package ai.bakery.data.plan;

import static ai.bakery.data.testing.PlanFixtures.condition;
import static ai.bakery.data.testing.PlanFixtures.config;
import static ai.bakery.data.testing.PlanFixtures.image;
import static ai.bakery.data.testing.PlanFixtures.planner;
import static ai.bakery.data.testing.PlanFixtures.target;
import static ai.bakery.data.testing.PlanFixtures.text;
import static ai.bakery.data.testing.PlanFixtures.vit;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.pack.PackBuilder;
import ai.bakery.data.pack.PackedBatch;
import ai.bakery.data.sample.Sample;
import ai.bakery.data.source.SkipCounter;
import ai.bakery.data.source.SkipReason;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** Golden plans computed by hand from the reference's pack_sequence for t2i, edit and VLM samples. */
class SequencePlannerTest {
  private static final float NEG_INF = Float.NEGATIVE_INFINITY;
  private static final int BOS = 1000;
  private static final int EOS = 1001;
  private static final int VS = 1002;
  private static final int VE = 1003;

  private static PackedBatch packOne(Sample sample) {
    SkipCounter skips = new SkipCounter();
    PlannedSample planned = planner(config(0, 0, 0)).plan(sample, 42, skips).orElseThrow();
    PackBuilder builder = new PackBuilder(VS, VE);
    builder.add(planned);
    return builder.build().validate();
  }

  @Test
  void textToImageSample() {
    // caption "5 6 7" (cfg-droppable, no loss), then a 32 x 48 target: a 2 x 3 latent grid, max_latent_size 4
    Sample s = new Sample("t2i/0", "t2i", List.of(text("5 6 7", false, true), target(image(32, 48, 0))));
    PlannedSample planned = planner(config(0, 0, 0)).plan(s, 42, new SkipCounter()).orElseThrow();
    assertEquals(3 + 2 + 6 + 2, planned.cost());
    PackedBatch b = packOne(s);
    assertEquals(13, b.sequenceLength());
    assertArrayEquals(new int[] {5, 8}, b.splitLens());
    assertArrayEquals(new String[] {"causal", "noise"}, b.attnModes());
    assertArrayEquals(new int[] {BOS, 5, 6, 7, EOS, VS, VE}, b.packedTextIds());
    assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 12}, b.packedTextIndexes());
    // text advances RoPE per token; the image's markers and latents share id 5
    assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 5, 5, 5, 5, 5, 5, 5}, b.packedPositionIds());
    assertArrayEquals(new int[] {2, 3}, b.patchifiedVaeLatentShapes());
    assertArrayEquals(new int[] {0, 1, 2, 4, 5, 6}, b.packedLatentPositionIds());
    assertArrayEquals(new int[] {6, 7, 8, 9, 10, 11}, b.packedVaeTokenIndexes());
    assertArrayEquals(new int[] {6, 7, 8, 9, 10, 11}, b.mseLossIndexes());
    float t = b.packedTimesteps()[0];
    assertTrue(Float.isFinite(t));
    for (float ti : b.packedTimesteps()) {
      assertEquals(t, ti);
    }
    assertArrayEquals(new int[] {1, 3, 32, 48}, b.paddedImagesShape());
    assertEquals(0, b.packedLabelIds().length);
    assertEquals(0, b.ceLossIndexes().length);
    assertEquals(0, b.numVitImages());
  }

  @Test
  void editSample() {
    // source image: clean VAE condition (32 x 32 -> 2 x 2) then ViT (cropped 28 x 28 -> 2 x 2 patches);
    // instruction "8 9"; target 32 x 32 with loss
    Sample s = new Sample("edit/0", "edit", List.of(condition(image(32, 32, 1)), text("8 9", false, true),
        target(image(32, 32, 2))));
    PackedBatch b = packOne(s);
    assertEquals(6 + 6 + 4 + 6, b.sequenceLength());
    assertArrayEquals(new int[] {6, 6, 4, 6}, b.splitLens());
    assertArrayEquals(new String[] {"full", "full", "causal", "noise"}, b.attnModes());
    assertArrayEquals(new int[] {VS, VE, VS, VE, BOS, 8, 9, EOS, VS, VE}, b.packedTextIds());
    assertArrayEquals(new int[] {0, 5, 6, 11, 12, 13, 14, 15, 16, 21}, b.packedTextIndexes());
    // condition id 0, ViT id 1, text 2..5, target 6
    int[] pos = new int[22];
    IntStream.range(0, 6).forEach(i -> pos[i] = 0);
    IntStream.range(6, 12).forEach(i -> pos[i] = 1);
    IntStream.range(12, 16).forEach(i -> pos[i] = 2 + i - 12);
    IntStream.range(16, 22).forEach(i -> pos[i] = 6);
    assertArrayEquals(pos, b.packedPositionIds());
    assertArrayEquals(new int[] {1, 2, 3, 4, 17, 18, 19, 20}, b.packedVaeTokenIndexes());
    assertArrayEquals(new int[] {0, 1, 4, 5, 0, 1, 4, 5}, b.packedLatentPositionIds());
    assertArrayEquals(new int[] {17, 18, 19, 20}, b.mseLossIndexes());
    float[] ts = b.packedTimesteps();
    for (int i = 0; i < 4; i++) {
      assertEquals(NEG_INF, ts[i]);
      assertTrue(Float.isFinite(ts[4 + i]));
    }
    assertArrayEquals(new int[] {7, 8, 9, 10}, b.packedVitTokenIndexes());
    assertArrayEquals(new int[] {4}, b.vitTokenSeqlens());
    assertArrayEquals(new int[] {0, 1, 3, 4}, b.packedVitPositionIds()); // row * 3 + col, max 3 per side
    assertEquals(3 * 14 * 14, b.vitPatchDim());
    assertArrayEquals(new int[] {2, 3, 32, 32}, b.paddedImagesShape());
    assertEquals(0, b.ceLossIndexes().length);
  }

  @Test
  void vlmSample() {
    // a ViT image, a human turn "1 2" (no loss), a gpt turn "3 4" (loss)
    Sample s = new Sample("vlm/0", "vlm", List.of(vit(image(28, 28, 3)), text("1 2", false, false),
        text("3 4", true, false)));
    PackedBatch b = packOne(s);
    assertEquals(6 + 4 + 4, b.sequenceLength());
    assertArrayEquals(new int[] {6, 4, 4}, b.splitLens());
    assertArrayEquals(new String[] {"full", "causal", "causal"}, b.attnModes());
    assertArrayEquals(new int[] {0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}, b.packedPositionIds());
    // bos predicts 3, 3 predicts 4, 4 predicts eos; the eos token predicts nothing
    assertArrayEquals(new int[] {10, 11, 12}, b.ceLossIndexes());
    assertArrayEquals(new int[] {3, 4, EOS}, b.packedLabelIds());
    float w = (float) (1.0 / Math.sqrt(3));
    assertArrayEquals(new float[] {w, w, w}, b.ceLossWeights());
    assertEquals(0, b.numVaeImages());
    assertEquals(0, b.packedTimesteps().length);
    // patch (0, 0): first value is pixel (0, 0) red = 3 / 127.5 - 1; then green of the same pixel
    assertEquals(3 / 127.5f - 1f, b.packedVitTokens()[0], 1e-6);
    assertEquals(4 / 127.5f - 1f, b.packedVitTokens()[1], 1e-6);
    // value 3 of patch 0 is pixel (0, 1) red = 3 + 3
    assertEquals(6 / 127.5f - 1f, b.packedVitTokens()[3], 1e-6);
  }

  @Test
  void noisedTargetDoesNotAdvanceRope() {
    Sample s = new Sample("x/0", "x", List.of(target(image(16, 16, 0)), text("7", true, false)));
    PackedBatch b = packOne(s);
    assertArrayEquals(new int[] {0, 0, 0, 0, 1, 2}, b.packedPositionIds());
  }

  @Test
  void droppedImagesStillAdvanceRopeButDroppedTextDoesNot() {
    // all conditions dropped: the ViT/VAE condition each advance RoPE by 1, the dropped text by 0
    Sample s = new Sample("e/0", "e", List.of(condition(image(32, 32, 1)), text("8 9", false, true),
        target(image(16, 16, 2))));
    PlannedSample p = planner(config(1, 1, 1)).plan(s, 1, new SkipCounter()).orElseThrow();
    assertEquals(1, p.splits().size());
    assertEquals(2, ((PlannedSplit.Vae) p.splits().get(0)).position());
    assertEquals(6 + 6 + 4 + 3, p.cost()); // cost counts dropped splits, as the reference's num_tokens
    assertEquals(3, p.length());
  }

  @Test
  void cfgDropoutRatesMatchConfig() {
    SequencePlanner planner = planner(config(0.1, 0.3, 0.3));
    int n = 10000;
    int textDropped = 0;
    int vitDropped = 0;
    int vaeDropped = 0;
    int vlmVitDropped = 0;
    var source = image(32, 32, 1);
    var small = image(16, 16, 2);
    var square = image(28, 28, 3);
    for (int i = 0; i < n; i++) {
      Sample edit = new Sample("edit/" + i, "edit", List.of(condition(source), text("8", false, true),
          target(small)));
      List<PlannedSplit> splits = planner.plan(edit, 7, new SkipCounter()).orElseThrow().splits();
      textDropped += splits.stream().anyMatch(x -> x instanceof PlannedSplit.Text) ? 0 : 1;
      vitDropped += splits.stream().anyMatch(x -> x instanceof PlannedSplit.Vit) ? 0 : 1;
      vaeDropped += splits.stream().filter(x -> x instanceof PlannedSplit.Vae).count() == 2 ? 0 : 1;
      Sample vlm = new Sample("vlm/" + i, "vlm", List.of(vit(square), text("3", true, false)));
      vlmVitDropped += planner.plan(vlm, 7, new SkipCounter()).orElseThrow().vitImages() == 1 ? 0 : 1;
    }
    // binomial standard deviations: 0.0030 (p = 0.1), 0.0046 (p = 0.3); allow 4 sigma
    assertEquals(0.1, textDropped / (double) n, 0.012);
    assertEquals(0.3, vitDropped / (double) n, 0.018);
    assertEquals(0.3, vaeDropped / (double) n, 0.018);
    assertEquals(0, vlmVitDropped, "ViT inputs of understanding samples are never dropped");
  }

  @Test
  void planIsDeterministicPerSeedAndKey() {
    SequencePlanner planner = planner(config(0.5, 0.5, 0.5));
    Sample s = new Sample("k", "e", List.of(condition(image(32, 32, 1)), text("8", false, true),
        target(image(16, 16, 2))));
    PackBuilder b = new PackBuilder(VS, VE);
    b.add(planner.plan(s, 3, new SkipCounter()).orElseThrow());
    PackedBatch first = b.build();
    b.add(planner.plan(s, 3, new SkipCounter()).orElseThrow());
    assertTrue(first.contentEquals(b.build()));
  }

  @Test
  void oversizedImagesAreSkippedAndCounted() {
    SkipCounter skips = new SkipCounter();
    SequencePlanner planner = planner(config(0, 0, 0));
    // 80 px -> latent side 5 > max_latent_size 4
    Sample big = new Sample("big", "t", List.of(text("1", false, true), target(image(80, 16, 0))));
    assertTrue(planner.plan(big, 1, skips).isEmpty());
    assertEquals(1, skips.count(SkipReason.LATENT_TOO_LARGE));
    // ViT grid 4 x 1 > vit_max_num_patch_per_side 3
    SequencePlanner wide = new SequencePlanner(config(0, 0, 0), ai.bakery.data.testing.PlanFixtures.TOKENS,
        ai.bakery.data.testing.PlanFixtures.ENCODER, ai.bakery.data.testing.PlanFixtures.IDENTITY,
        ai.bakery.data.testing.PlanFixtures.crop(56, 14));
    Sample vlm = new Sample("v", "v", List.of(vit(image(56, 14, 0)), text("1", true, false)));
    assertTrue(wide.plan(vlm, 1, skips).isEmpty());
    assertEquals(1, skips.count(SkipReason.VIT_GRID_TOO_LARGE));
    Sample noLoss = new Sample("n", "v", List.of(text("1", false, false)));
    assertTrue(planner.plan(noLoss, 1, skips).isEmpty());
    assertEquals(1, skips.count(SkipReason.NO_LOSS));
  }

  @Test
  void maxPixelsIsSharedAmongVlmImagesOnly() {
    List<Integer> shares = new java.util.ArrayList<>();
    ImagePreparer recording = (img, n) -> {
      shares.add(n);
      return ai.bakery.data.testing.PlanFixtures.toChw(img.getSubimage(0, 0, 28, 28), n);
    };
    SequencePlanner p = new SequencePlanner(config(0, 0, 0), ai.bakery.data.testing.PlanFixtures.TOKENS,
        ai.bakery.data.testing.PlanFixtures.ENCODER, ai.bakery.data.testing.PlanFixtures.IDENTITY, recording);
    p.plan(new Sample("v", "v", List.of(vit(image(28, 28, 0)), vit(image(28, 28, 1)), text("1", true, false))), 1,
        new SkipCounter()).orElseThrow();
    assertEquals(List.of(2, 2), shares); // the reference's img_num for VLM samples
    shares.clear();
    p.plan(new Sample("e", "e", List.of(condition(image(32, 32, 1)), text("8", false, true),
        target(image(16, 16, 2)))), 1, new SkipCounter()).orElseThrow();
    assertEquals(List.of(1), shares); // generation samples transform each image alone
  }

  @Test
  void packBuilderOffsetsSecondSample() {
    SequencePlanner planner = planner(config(0, 0, 0));
    PackBuilder b = new PackBuilder(VS, VE);
    b.add(planner.plan(new Sample("a", "v", List.of(text("3 4", true, false))), 1, new SkipCounter()).orElseThrow());
    b.add(planner.plan(new Sample("b", "t", List.of(text("5", false, true), target(image(16, 32, 0)))), 1,
        new SkipCounter()).orElseThrow());
    b.add(planner.plan(new Sample("c", "t", List.of(text("6", false, true), target(image(32, 16, 0)))), 1,
        new SkipCounter()).orElseThrow());
    PackedBatch p = b.build().validate();
    assertArrayEquals(new int[] {4, 7, 7}, p.sampleLens());
    assertArrayEquals(new int[] {4, 3, 4, 3, 4}, p.splitLens());
    // positions restart at 0 for every sample
    assertArrayEquals(new int[] {0, 1, 2, 3, 0, 1, 2, 3, 3, 3, 3, 0, 1, 2, 3, 3, 3, 3}, p.packedPositionIds());
    assertArrayEquals(new int[] {8, 9, 15, 16}, p.packedVaeTokenIndexes());
    assertArrayEquals(new int[] {1, 2, 2, 1}, p.patchifiedVaeLatentShapes());
    // padded to the largest height and width: (2, 3, 32, 32); image 0 (16 x 32) has zeros below row 16
    assertArrayEquals(new int[] {2, 3, 32, 32}, p.paddedImagesShape());
    assertEquals(0f, p.paddedImages()[(0 * 32 + 20) * 32 + 5]);
    assertEquals(-1f, p.paddedImages()[0], 1e-6); // pixel (0, 0) red = 0 -> -1
    assertArrayEquals(new String[] {"a", "b", "c"}, p.sampleKeys());
  }
}
