package ai.bakery.data.pack;

import ai.bakery.data.DataConfig;
import ai.bakery.data.source.SkipCounter;
import ai.bakery.data.source.SkipReason;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * BAGEL's packer ({@code PackedDataset.__iter__}), rule for rule:
 *
 * <ol>
 *   <li>a new pack first takes one sample from every {@code is_mandatory} group (one costing
 *       {@code >= max_num_tokens_per_sample} is skipped and the group asked again);
 *   <li>while the pack holds fewer than {@code prefer_buffer_before} tokens and the overflow buffer is not
 *       empty, the next sample is the buffer's oldest; otherwise a group is drawn by weight;
 *   <li>a sample costing more than {@code max_num_tokens_per_sample} is skipped and counted;
 *   <li>a sample that would take the pack past {@code max_num_tokens} goes to the buffer when it came fresh
 *       and the buffer holds fewer than {@code max_buffer_size}; otherwise the pack is yielded as it is;
 *   <li>a pack is yielded as soon as it holds {@code >= expected_num_tokens} tokens.
 * </ol>
 *
 * Cost is the reference's {@code num_tokens + 2 * len(sequence_plan)} (before CFG dropout); the pack's length
 * is counted in tokens actually packed. One deliberate difference: when rule 4 yields, the reference drops the
 * sample that did not fit; here it goes to the head of the buffer and opens the next pack.
 */
public final class SequencePacker implements Packer {
  private static final Logger LOG = LoggerFactory.getLogger(SequencePacker.class);
  /** A mandatory group that yields this many oversized samples in a row is misconfigured, not unlucky. */
  private static final int MAX_CONSECUTIVE_SKIPS = 100_000;

  private final DataConfig config;
  private final SampleFeed feed;
  private final boolean[] mandatory;
  private final GroupChooser chooser;
  private final SkipCounter skips;
  private final PackBuilder builder;
  private final Deque<PackCandidate> buffer = new ArrayDeque<>();

  /**
   * @param mandatory per group: contributes a sample to every pack
   * @param chooser group choice by weight, its generator restored from a position when resuming
   * @param held buffered samples (oldest first) from a saved {@link PackerState}, else empty
   */
  public SequencePacker(DataConfig config, SampleFeed feed, boolean[] mandatory, GroupChooser chooser,
      List<PackCandidate> held, SkipCounter skips, PackBuilder builder) {
    if (mandatory.length != feed.groups()) {
      throw new IllegalArgumentException(mandatory.length + " mandatory flags for " + feed.groups() + " groups");
    }
    this.config = config;
    this.feed = feed;
    this.mandatory = mandatory.clone();
    this.chooser = chooser;
    this.skips = skips;
    this.builder = builder;
    buffer.addAll(held);
  }

  @Override
  public PackedBatch next() {
    while (true) {
      if (builder.isEmpty()) {
        addMandatorySamples();
      }
      PackCandidate candidate;
      boolean fromBuffer;
      if (builder.tokens() < config.preferBufferBefore() && !buffer.isEmpty()) {
        candidate = buffer.pollFirst();
        fromBuffer = true;
      } else {
        candidate = feed.next(chooser.next());
        fromBuffer = false;
      }
      int cost = candidate.sample().cost();
      if (cost > config.maxNumTokensPerSample()) {
        skipTooLong(candidate);
        continue;
      }
      if (builder.tokens() + cost > config.maxNumTokens()) {
        if (!fromBuffer && buffer.size() < config.maxBufferSize()) {
          buffer.addLast(candidate);
          continue;
        }
        if (builder.isEmpty()) {
          // fits in no pack (possible when max_num_tokens_per_sample > max_num_tokens, as in the reference's
          // finetuning settings); the reference would yield an empty pack here
          skips.skip(SkipReason.TOO_MANY_TOKENS, candidate.sample().key(), "costs " + cost
              + " tokens; max_num_tokens is " + config.maxNumTokens());
          continue;
        }
        buffer.addFirst(candidate);
        return builder.build();
      }
      builder.add(candidate.sample());
      if (builder.tokens() >= config.expectedNumTokens()) {
        return builder.build();
      }
    }
  }

  private void addMandatorySamples() {
    for (int g = 0; g < mandatory.length; g++) {
      if (!mandatory[g]) {
        continue;
      }
      for (int skipped = 0; ; skipped++) {
        if (skipped >= MAX_CONSECUTIVE_SKIPS) {
          throw new IllegalStateException("mandatory group " + feed.groupName(g) + " gave " + skipped
              + " samples in a row costing >= max_num_tokens_per_sample (" + config.maxNumTokensPerSample()
              + "); raise max_num_tokens_per_sample or shrink its images");
        }
        PackCandidate c = feed.next(g);
        if (c.sample().cost() < config.maxNumTokensPerSample()) {
          builder.add(c.sample());
          break;
        }
        skipTooLong(c);
      }
    }
  }

  private void skipTooLong(PackCandidate c) {
    skips.skip(SkipReason.TOO_MANY_TOKENS, c.sample().key(), "costs " + c.sample().cost()
        + " tokens; max_num_tokens_per_sample is " + config.maxNumTokensPerSample());
  }

  @Override
  public PackerState state() {
    List<SampleRef> refs = new ArrayList<>(buffer.size());
    for (PackCandidate c : buffer) {
      refs.add(c.ref());
    }
    return new PackerState(chooser.rng().state(), refs);
  }

  /** Samples waiting in the overflow buffer. */
  public int buffered() {
    return buffer.size();
  }
}
