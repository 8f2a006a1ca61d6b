package ai.bakery.model.attention;

import java.util.ArrayList;
import java.util.List;

/**
 * One fused-attention call of a packed sequence: the query rows {@code [qStart, qEnd)} attend over the key
 * rows {@code [kStart, qEnd)} (pack coordinates). {@code causalOffset >= 0} means row {@code qStart + i} sees
 * keys up to {@code kStart + causalOffset + i}; {@code -1} means every key of the range. {@code hidden} lists
 * {@code [from, to)} key ranges inside the range that the rows may not see (other splits' noise tokens).
 *
 * <p>{@link #plan} cuts a {@link PackLayout} into such blocks so that each block needs no mask at all, or a
 * mask only as large as its own rows times its keys: never one dense mask over the pack or even a sample.
 */
record AttentionBlock(int qStart, int qEnd, int kStart, int causalOffset, List<int[]> hidden) {
  int rows() {
    return qEnd - qStart;
  }

  int keys() {
    return qEnd - kStart;
  }

  /** Plain causal attention of the rows over themselves: SDPA's {@code is_causal} does it with no mask. */
  boolean isSelfCausal() {
    return causalOffset == 0 && kStart == qStart && hidden.isEmpty();
  }

  /** Every row sees every key: no mask. */
  boolean isDense() {
    return causalOffset < 0 && hidden.isEmpty();
  }

  /**
   * The blocks of a pack, following the reference's per-sample rules: a split sees every earlier visible
   * token of its sample; causal splits see their own earlier tokens, full and noise splits all of
   * themselves; a noise split is hidden from every other split. A run of adjacent causal splits is one
   * causal block (its rows see exactly what one long causal split would).
   */
  static List<AttentionBlock> plan(PackLayout layout) {
    return plan(layout, layout.totalLength());
  }

  /**
   * As {@link #plan(PackLayout)} for a pack of {@code packLength} tokens: samples starting at or after its
   * end are padding (the reference pads flex-attention packs with one trailing sample) and get no blocks.
   */
  static List<AttentionBlock> plan(PackLayout layout, long packLength) {
    List<AttentionBlock> blocks = new ArrayList<>();
    int[] splitLens = layout.splitLens();
    AttnMode[] modes = layout.modes();
    int split = 0;
    int sampleStart = 0;
    for (int sampleLen : layout.sampleLens()) {
      int sampleEnd = sampleStart + sampleLen;
      if (sampleStart >= packLength) {
        break;
      }
      if (sampleEnd > packLength) {
        throw new IllegalArgumentException("sample [" + sampleStart + ", " + sampleEnd + ") runs past the pack's "
            + packLength + " tokens");
      }
      List<int[]> noise = new ArrayList<>();
      int pos = sampleStart;
      while (pos < sampleEnd) {
        if (split >= splitLens.length) {
          throw new IllegalArgumentException("split_lens end inside sample ending at token " + sampleEnd);
        }
        int start = pos;
        AttnMode mode = modes[split];
        int end = start + splitLens[split++];
        if (mode == AttnMode.CAUSAL) {
          while (end < sampleEnd && split < modes.length && modes[split] == AttnMode.CAUSAL) {
            end += splitLens[split++];
          }
        }
        if (end > sampleEnd) {
          throw new IllegalArgumentException("split ending at token " + end + " crosses the sample ending at "
              + sampleEnd + " (split_lens must partition each sample)");
        }
        List<int[]> hidden = List.copyOf(noise);
        int offset = mode == AttnMode.CAUSAL ? start - sampleStart : -1;
        // Keys before the first visible one need not be passed at all.
        int kStart = sampleStart;
        while (!hidden.isEmpty() && hidden.get(0)[0] == kStart) {
          int skipped = hidden.get(0)[1] - kStart;
          kStart = hidden.get(0)[1];
          offset = offset < 0 ? -1 : offset - skipped;
          hidden = hidden.subList(1, hidden.size());
        }
        if (end > start) {
          blocks.add(new AttentionBlock(start, end, kStart, offset, List.copyOf(hidden)));
        }
        if (mode == AttnMode.NOISE) {
          noise.add(new int[] {start, end});
        }
        pos = end;
      }
      sampleStart = sampleEnd;
    }
    while (split < splitLens.length && splitLens[split] == 0) {
      split++;
    }
    if (sampleStart < packLength) {
      throw new IllegalArgumentException("sample_lens cover " + sampleStart + " tokens but the pack has " + packLength);
    }
    if (sampleStart == layout.totalLength() && split != splitLens.length) {
      throw new IllegalArgumentException((splitLens.length - split) + " split_lens entries lie past the last sample");
    }
    return blocks;
  }
}
