package ai.bakery.data.pack;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.DataConfig;
import ai.bakery.data.DataRandom;
import ai.bakery.data.source.SkipCounter;
import ai.bakery.data.source.SkipReason;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Every packing rule on hand-computed sequences of sample costs. */
class PackerTest {
  private static DataConfig tokens(int expected, int max, int perSample, int preferBuffer, int bufferSize) {
    return DataConfig.defaults().withTokens(expected, max, perSample, preferBuffer, bufferSize);
  }

  private static SequencePacker reference(DataConfig c, FakeFeed feed, boolean[] mandatory, double[] weights,
      SkipCounter skips) {
    return new SequencePacker(c, feed, mandatory, new GroupChooser(weights, new DataRandom(5)), List.of(), skips,
        new PackBuilder(7, 8));
  }

  @Test
  void yieldsOnceExpectedTokensReached() {
    SequencePacker p = reference(tokens(50, 60, 60, 0, 0), new FakeFeed(new int[] {20}), new boolean[] {false},
        new double[] {1}, new SkipCounter());
    PackedBatch b = p.next();
    assertArrayEquals(new int[] {20, 20, 20}, b.sampleLens());
    assertArrayEquals(new String[] {"g0-0", "g0-1", "g0-2"}, b.sampleKeys());
    assertEquals(60, b.validate().sequenceLength());
  }

  @Test
  void overflowBufferAndPreferBufferBefore() {
    // costs by index: 0:30 1:25 2:40 3:10 4:5 5:30 6:20 then 15s; expected 60, max 64, prefer 20, buffer 2
    FakeFeed feed = new FakeFeed(new int[] {30, 25, 40, 10, 5, 30, 20, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
        15, 15, 15});
    SequencePacker p = reference(tokens(60, 64, 64, 20, 2), feed, new boolean[] {false}, new double[] {1},
        new SkipCounter());
    // 40 and 10 overflow into the buffer; 5 completes 60
    assertArrayEquals(new String[] {"g0-0", "g0-1", "g0-4"}, p.next().sampleKeys());
    // under 20 tokens: the buffer's 40 first; at 40 >= 20 fresh samples: 30 overflows to the buffer, 20 fits
    assertArrayEquals(new String[] {"g0-2", "g0-6"}, p.next().sampleKeys());
    // 10, then 30 from the buffer (still under 20); 15 fits; two 15s fill the buffer; the next 15 yields and
    // waits at the buffer's head
    assertArrayEquals(new String[] {"g0-3", "g0-5", "g0-7"}, p.next().sampleKeys());
    assertEquals(3, p.buffered());
    assertArrayEquals(new String[] {"g0-10", "g0-8", "g0-11", "g0-12"}, p.next().sampleKeys());
    assertEquals(List.of(new SampleRef(0, 0, 9, 0)), p.state().held());
  }

  @Test
  void samplesOverMaxPerSampleAreSkippedAndCounted() {
    SkipCounter skips = new SkipCounter();
    SequencePacker p = reference(tokens(30, 60, 50, 0, 0), new FakeFeed(new int[] {20, 51, 50}),
        new boolean[] {false}, new double[] {1}, skips);
    // 51 > 50 is skipped; 50 == max_num_tokens_per_sample is kept (the reference's > test)
    assertArrayEquals(new String[] {"g0-0"}, p.next().sampleKeys()); // 20 + 50 > 60: overflow yields
    assertEquals(1, skips.count(SkipReason.TOO_MANY_TOKENS));
  }

  @Test
  void sampleFittingNoPackIsSkippedNotYieldedEmpty() {
    // finetune-like settings: max_num_tokens_per_sample above max_num_tokens
    SkipCounter skips = new SkipCounter();
    SequencePacker p = reference(tokens(30, 40, 50, 0, 0), new FakeFeed(new int[] {45, 10, 10, 10}),
        new boolean[] {false}, new double[] {1}, skips);
    assertArrayEquals(new String[] {"g0-1", "g0-2", "g0-3"}, p.next().sampleKeys());
    assertEquals(1, skips.count(SkipReason.TOO_MANY_TOKENS));
  }

  @Test
  void mandatoryGroupContributesToEveryPack() {
    // group 1 has weight 0: its samples come only through is_mandatory; cost 50 == max per sample is skipped
    // there (the reference's strict < for mandatory samples)
    SkipCounter skips = new SkipCounter();
    FakeFeed feed = new FakeFeed(new int[] {10}, new int[] {5, 50, 6});
    SequencePacker p = reference(tokens(30, 60, 50, 0, 0), feed, new boolean[] {false, true}, new double[] {1, 0},
        skips);
    for (int i = 0; i < 6; i++) {
      PackedBatch b = p.next();
      long fromMandatory = java.util.Arrays.stream(b.sampleKeys()).filter(k -> k.startsWith("g1-")).count();
      assertEquals(1, fromMandatory);
      assertTrue(b.sampleKeys()[0].startsWith("g1-"), "mandatory samples open the pack");
    }
    assertTrue(skips.count(SkipReason.TOO_MANY_TOKENS) >= 1);
  }

  @Test
  void mandatoryGroupOfOnlyOversizedSamplesFailsClearly() {
    SequencePacker p = reference(tokens(30, 60, 50, 0, 0), new FakeFeed(new int[] {10}, new int[] {55}),
        new boolean[] {false, true}, new double[] {1, 0}, new SkipCounter());
    IllegalStateException e = assertThrows(IllegalStateException.class, p::next);
    assertTrue(e.getMessage().contains("group1"), e.getMessage());
  }

  @Test
  void groupsDrawnByWeight() {
    FakeFeed feed = new FakeFeed(new int[] {10}, new int[] {10});
    SequencePacker p = reference(tokens(100, 100, 50, 0, 0), feed, new boolean[] {false, false},
        new double[] {1, 3}, new SkipCounter());
    for (int i = 0; i < 400; i++) {
      p.next();
    }
    double share = feed.drawn[1] / (double) (feed.drawn[0] + feed.drawn[1]);
    assertEquals(0.75, share, 0.02); // 4000 draws: sd 0.007
  }

  @Test
  void restoredPackerContinuesIdentically() {
    FakeFeed feed = new FakeFeed(new int[] {30, 25, 40, 10, 5, 33, 20, 17}, new int[] {12, 44, 7});
    DataConfig c = tokens(60, 64, 64, 20, 3);
    SequencePacker p = reference(c, feed, new boolean[] {false, true}, new double[] {2, 1}, new SkipCounter());
    for (int i = 0; i < 5; i++) {
      p.next();
    }
    PackerState state = p.state();
    FakeFeed feed2 = feed.copy();
    List<PackCandidate> held = new ArrayList<>();
    state.held().forEach(r -> held.add(feed2.reread(r)));
    SequencePacker restored = new SequencePacker(c, feed2, new boolean[] {false, true},
        new GroupChooser(new double[] {2, 1}, new DataRandom(state.groupRng())), held, new SkipCounter(),
        new PackBuilder(7, 8));
    for (int i = 0; i < 10; i++) {
      assertTrue(p.next().contentEquals(restored.next()), "pack " + i);
    }
  }

  @Test
  void firstFitPacksInArrivalOrder() {
    // lengths 4 3 5 2 12 8 1 1, packing_length 10
    FakeFeed feed = new FakeFeed(new int[] {4, 3, 5, 2, 12, 8, 1, 1, 9, 9, 9, 9});
    SkipCounter skips = new SkipCounter();
    DataConfig c = DataConfig.defaults().withPacking(DataConfig.FIRST_FIT, 10, true);
    FirstFitPacker p = new FirstFitPacker(c, feed, new GroupChooser(new double[] {1}, new DataRandom(1)), List.of(),
        skips, new PackBuilder(7, 8));
    assertArrayEquals(new int[] {4, 3}, p.next().sampleLens());
    assertArrayEquals(new int[] {5, 2}, p.next().sampleLens()); // 12 dropped as overlong, 8 does not fit
    assertEquals(1, skips.count(SkipReason.TOO_MANY_TOKENS));
    assertEquals(List.of(new SampleRef(0, 0, 5, 0)), p.state().held());
    assertArrayEquals(new int[] {8, 1, 1}, p.next().sampleLens());

    FakeFeed feed2 = new FakeFeed(new int[] {4, 3, 5, 2, 12, 8, 1, 1, 9, 9, 9, 9});
    FirstFitPacker keep = new FirstFitPacker(c.withPacking(DataConfig.FIRST_FIT, 10, false), feed2,
        new GroupChooser(new double[] {1}, new DataRandom(1)), List.of(), new SkipCounter(), new PackBuilder(7, 8));
    keep.next();
    assertArrayEquals(new int[] {5, 2}, keep.next().sampleLens());
    assertArrayEquals(new int[] {12}, keep.next().sampleLens()); // overlong kept goes alone
    assertArrayEquals(new int[] {8, 1, 1}, keep.next().sampleLens());
  }
}
