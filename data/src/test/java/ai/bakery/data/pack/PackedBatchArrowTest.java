package ai.bakery.data.pack;

import static ai.bakery.data.testing.PlanFixtures.condition;
import static ai.bakery.data.testing.PlanFixtures.config;
import static ai.bakery.data.testing.PlanFixtures.image;
import static ai.bakery.data.testing.PlanFixtures.planner;
import static ai.bakery.data.testing.PlanFixtures.target;
import static ai.bakery.data.testing.PlanFixtures.text;
import static ai.bakery.data.testing.PlanFixtures.vit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.plan.SequencePlanner;
import ai.bakery.data.sample.Sample;
import ai.bakery.data.source.SkipCounter;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.Test;

class PackedBatchArrowTest {
  /** A pack with every kind of split: causal text with and without loss, ViT, clean VAE, noised VAE. */
  static PackedBatch everySplitKind() {
    SequencePlanner planner = planner(config(0, 0, 0));
    PackBuilder b = new PackBuilder(1002, 1003);
    b.add(planner.plan(new Sample("edit/0", "edit", List.of(condition(image(32, 32, 1)), text("8 9", false, true),
        target(image(16, 48, 2)))), 1, new SkipCounter()).orElseThrow());
    b.add(planner.plan(new Sample("vlm/0", "vlm", List.of(vit(image(28, 28, 3)), text("1 2", false, false),
        text("3 4 5", true, false))), 1, new SkipCounter()).orElseThrow());
    return b.build().validate();
  }

  @Test
  void roundTripThroughRecordBatchAndIpcIsLossless() {
    PackedBatch batch = everySplitKind();
    try (BufferAllocator allocator = new RootAllocator()) {
      try (VectorSchemaRoot root = PackedBatchArrow.toArrow(batch, allocator)) {
        assertEquals(1, root.getRowCount());
        assertEquals(PackedBatchArrow.SCHEMA, root.getSchema());
        assertTrue(batch.contentEquals(PackedBatchArrow.fromArrow(root)));
      }
      byte[] ipc = PackedBatchArrow.toIpcBytes(batch, allocator);
      PackedBatch back = PackedBatchArrow.fromIpcBytes(ipc, allocator).validate();
      assertTrue(batch.contentEquals(back));
      assertEquals(Float.NEGATIVE_INFINITY, back.packedTimesteps()[0]);
      assertEquals(0, allocator.getAllocatedMemory(), "every Arrow buffer released");
    }
  }

  @Test
  void largeBatchRoundTripsQuickly() {
    // a pretraining-sized pack: 36864 tokens, eight 512 x 512 VAE images, 4096 ViT patches
    int n = 36864;
    java.util.Random r = new java.util.Random(1);
    int[] ids = r.ints(n, 0, 152064).toArray();
    float[] images = new float[8 * 3 * 512 * 512];
    for (int i = 0; i < images.length; i++) {
      images[i] = r.nextFloat() * 2 - 1;
    }
    float[] vit = new float[4096 * 588];
    PackedBatch big = new PackedBatch(n, new int[] {n}, new int[] {n}, new String[] {"causal"}, ids,
        java.util.stream.IntStream.range(0, n).toArray(), ids.clone(), images, new int[] {8, 3, 512, 512},
        new int[0], new int[0], new int[0], new float[0], new int[0], vit, 588, new int[0], new int[0], new int[0],
        ids.clone(), ids.clone(), new float[n], new String[] {"k"});
    long start = System.nanoTime();
    PackedBatch back = PackedBatchArrow.fromIpcBytes(PackedBatchArrow.toIpcBytes(big));
    long ms = (System.nanoTime() - start) / 1_000_000;
    assertTrue(big.contentEquals(back));
    assertTrue(ms < 5000, "round trip took " + ms + " ms");
  }

  @Test
  void contentEqualsSeesASingleChangedValue() {
    PackedBatch a = everySplitKind();
    PackedBatch b = PackedBatchArrow.fromIpcBytes(PackedBatchArrow.toIpcBytes(a));
    b.packedVitTokens()[5] += 1e-3f;
    assertFalse(a.contentEquals(b));
  }

  @Test
  void emptyKeysRoundTrip() {
    PackBuilder builder = new PackBuilder(1002, 1003);
    builder.add(planner(config(0, 0, 0)).plan(new Sample("t", "t", List.of(text("3", true, false))), 1,
        new SkipCounter()).orElseThrow());
    PackedBatch textOnly = builder.build();
    assertTrue(textOnly.contentEquals(PackedBatchArrow.fromIpcBytes(PackedBatchArrow.toIpcBytes(textOnly))));
  }

  @Test
  void validateNamesTheBrokenKey() {
    PackedBatch a = everySplitKind();
    PackedBatch broken = new PackedBatch(a.sequenceLength(), a.sampleLens(), a.splitLens(), a.attnModes(),
        a.packedTextIds(), a.packedTextIndexes(), a.packedPositionIds(), a.paddedImages(), a.paddedImagesShape(),
        a.patchifiedVaeLatentShapes(), a.packedLatentPositionIds(), a.packedVaeTokenIndexes(),
        new float[3], a.mseLossIndexes(), a.packedVitTokens(), a.vitPatchDim(), a.packedVitPositionIds(),
        a.packedVitTokenIndexes(), a.vitTokenSeqlens(), a.packedLabelIds(), a.ceLossIndexes(), a.ceLossWeights(),
        a.sampleKeys());
    IllegalStateException e = assertThrows(IllegalStateException.class, broken::validate);
    assertTrue(e.getMessage().contains("packed_timesteps"), e.getMessage());
  }
}
