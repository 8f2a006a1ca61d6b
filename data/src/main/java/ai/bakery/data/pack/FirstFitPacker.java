package ai.bakery.data.pack;

import ai.bakery.data.DataConfig;
import ai.bakery.data.source.SkipCounter;
import ai.bakery.data.source.SkipReason;
import java.util.List;

/**
 * LMMS Engine's streaming {@code first_fit} packing: samples are appended in the order they arrive while the
 * pack stays within {@code packing_length} tokens; the first one that does not fit closes the pack and opens
 * the next. A sample longer than {@code packing_length} is dropped and counted when {@code filter_overlong},
 * else it becomes a pack of its own. Length is the tokens a sample occupies (LMMS Engine's
 * {@code len(input_ids)}). Groups are drawn by weight as in the reference packer.
 */
public final class FirstFitPacker implements Packer {
  private final DataConfig config;
  private final SampleFeed feed;
  private final GroupChooser chooser;
  private final SkipCounter skips;
  private final PackBuilder builder;
  private PackCandidate pending;

  /** @param held the sample that opened the next pack, from a saved {@link PackerState} (at most one) */
  public FirstFitPacker(DataConfig config, SampleFeed feed, GroupChooser chooser, List<PackCandidate> held,
      SkipCounter skips, PackBuilder builder) {
    if (held.size() > 1) {
      throw new IllegalArgumentException("first_fit holds at most one sample, got " + held.size());
    }
    this.config = config;
    this.feed = feed;
    this.chooser = chooser;
    this.skips = skips;
    this.builder = builder;
    this.pending = held.isEmpty() ? null : held.get(0);
  }

  @Override
  public PackedBatch next() {
    int limit = config.packingLength();
    while (true) {
      PackCandidate c = pending != null ? pending : feed.next(chooser.next());
      pending = null;
      int length = c.sample().length();
      if (length > limit && config.filterOverlong()) {
        skips.skip(SkipReason.TOO_MANY_TOKENS, c.sample().key(), "has " + length
            + " tokens; packing_length is " + limit);
        continue;
      }
      if (!builder.isEmpty() && builder.tokens() + length > limit) {
        pending = c;
        return builder.build();
      }
      builder.add(c.sample());
      if (length > limit) {
        return builder.build(); // an overlong sample goes alone rather than stall the stream
      }
    }
  }

  @Override
  public PackerState state() {
    return new PackerState(chooser.rng().state(), pending == null ? List.of() : List.of(pending.ref()));
  }
}
