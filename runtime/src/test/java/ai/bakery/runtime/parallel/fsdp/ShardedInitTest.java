package ai.bakery.runtime.parallel.fsdp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.collective.ParallelDims;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.parallel.ShardRange;
import ai.bakery.runtime.train.TrainJob;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A FULL_SHARD rank of a preset job (seeded initial weights) draws only its own shards: every slice is bit-equal to
 * the same slice of the whole model {@code bakery train} initialises from the same seed (MoT copies and NSA weights
 * included), and no rank ever holds more weight elements than its shards plus one full parameter.
 */
class ShardedInitTest {
  private static final Logger LOG = LoggerFactory.getLogger(ShardedInitTest.class);
  /** Small NSA blocks (the weights NSA adds are drawn from their own seed after every other weight). */
  static final String NSA = String.join("\n", "  nsa:", "    block_size: 16", "    kernel_size: 16",
      "    kernel_stride: 8", "    topk: 3", "    local_blocks: 1", "    window_size: 24");

  @TempDir
  static Path tmp;

  @BeforeAll
  static void init() {
    Torch.init();
  }

  /** Every weight of the whole model as {@link TrainJob#buildModel} draws it for the job. */
  static Map<String, float[]> fullInit(JobConfig job) throws Exception {
    Map<String, float[]> out = new LinkedHashMap<>();
    try (TrainJob.Model built = TrainJob.buildModel(job)) {
      for (Parameter p : built.store().all().values()) {
        out.put(p.name(), p.value().toFloatArray());
      }
    }
    return out;
  }

  @Test
  void twoRanksDrawTheirSlicesOfTheFullInitialisation() throws Exception {
    // a shift other than the preset's 1.0: ShardedStart must build the job's model, not the preset's
    check(TinyBagelRanks.job(tmp, "  gradient_checkpointing: true\n  timestep_shift: 3.0"), 2);
  }

  @Test
  void threeRanksDrawTheirSlicesWithNsaWeightsToo() throws Exception {
    check(TinyBagelRanks.job(tmp, NSA), 3);
  }

  private static void check(JobConfig job, int world) throws Exception {
    Map<String, float[]> full = fullInit(job);
    long total = full.values().stream().mapToLong(a -> a.length).sum();
    long largest = full.values().stream().mapToLong(a -> a.length).max().orElseThrow();
    assertTrue(full.keySet().stream().anyMatch(n -> n.contains("_moe_gen")), "the tiny preset is a MoT model");
    List<long[]> measured = TinyBagelRanks.runRanks(new ParallelDims(world, world), (rank, mesh) -> {
      try (ShardedStart start = ShardedStart.open(job, mesh)) {
        assertEquals(job.model().timestepShift(), start.modelConfig().timestepShift(), "model.timestep_shift");
        ShardedState state = start.rank().state();
        assertEquals(full.keySet(), state.params().stream().map(ShardSlice::name)
            .collect(java.util.stream.Collectors.toCollection(java.util.LinkedHashSet::new)), "the same parameters");
        long held = 0;
        for (ShardSlice s : state.params()) {
          assertEquals(ShardRange.of(s.numel(), rank, world), s.range(), s.name());
          float[] want = Arrays.copyOfRange(full.get(s.name()), (int) s.range().start(), (int) s.range().end());
          assertArrayEquals(want, s.shard().toFloatArray(), s.name() + " on rank " + rank);
          held += s.range().length();
        }
        for (ShardSlice s : state.ema()) {
          float[] want = Arrays.copyOfRange(full.get(s.name()), (int) s.range().start(), (int) s.range().end());
          assertArrayEquals(want, s.shard().toFloatArray(), "the EMA starts at the drawn " + s.name());
        }
        ShardedInit.Meter meter = start.meter();
        long shards = state.gradientBytes() / Float.BYTES; // the unit buffers, padding included
        assertTrue(meter.samples() >= 2L * full.size(), "every parameter of both builds was measured");
        assertEquals(largest, meter.largestParameter());
        return new long[] {meter.peakElements(), shards, held};
      }
    });
    long sumHeld = 0;
    for (int r = 0; r < world; r++) {
      long peak = measured.get(r)[0];
      long shards = measured.get(r)[1];
      sumHeld += measured.get(r)[2];
      LOG.info("{} ranks, rank {}: at most {} weight elements held while starting = shards {} + {} (largest parameter"
          + " {}); the whole model has {}", world, r, peak, shards, peak - shards, largest, total);
      // one full parameter on top of the shards, and the one-element NaNs freed values point at (fewer than one
      // per parameter)
      assertTrue(peak <= shards + largest + full.size(), "rank " + r + " held " + peak + " elements, shards " + shards
          + " + largest parameter " + largest);
      assertTrue(shards <= total / world + full.size(), "rank " + r + "'s shards are its share: " + shards);
    }
    assertEquals(total, sumHeld, "the ranks' slices cover the model once");
  }
}
