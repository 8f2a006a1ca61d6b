package ai.bakery.data.shard;

import ai.bakery.data.DataRandom;
import ai.bakery.data.pack.PackCandidate;
import ai.bakery.data.pack.SampleRef;
import ai.bakery.data.plan.PlannedSample;
import ai.bakery.data.plan.SequencePlanner;
import ai.bakery.data.source.PositionedSample;
import ai.bakery.data.source.SampleCursor;
import ai.bakery.data.source.SkipCounter;
import ai.bakery.data.source.SkipReason;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One worker's endless read of one group: its slots in order, each from its cursor row, planned; then again
 * from the first slot (a new pass, which reseeds CFG dropout and timesteps). Single-threaded.
 */
final class GroupStream implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(GroupStream.class);

  private final int group;
  private final String name;
  private final List<GroupDataset> datasets;
  private final List<ShardSlot> slots;
  private final SequencePlanner planner;
  private final long seed;
  private final SkipCounter skips;
  private GroupCursor cursor;
  private SampleCursor open;

  GroupStream(int group, String name, List<GroupDataset> datasets, List<ShardSlot> slots, SequencePlanner planner,
      long seed, SkipCounter skips, GroupCursor start) {
    this.group = group;
    this.name = name;
    this.datasets = datasets;
    this.slots = slots;
    this.planner = planner;
    this.seed = seed;
    this.skips = skips;
    if (start.slot() < 0 || start.slot() >= slots.size()) {
      throw new IllegalArgumentException("data position of group " + name + " points at slot " + start.slot()
          + " but this worker has " + slots.size() + " slots: the data or num_used_data changed since it was saved");
    }
    this.cursor = start;
  }

  GroupCursor cursor() {
    return cursor;
  }

  String name() {
    return name;
  }

  /** The next sample that plans; throws when a whole pass yields none. */
  PackCandidate next() {
    long emptySlotsInARow = 0;
    while (true) {
      ShardSlot slot = slots.get(cursor.slot());
      SampleCursor c = cursor.row() < slot.endRow() ? openAt(slot) : null;
      if (c != null) {
        while (c.hasNext()) {
          PositionedSample ps = c.next();
          if (ps.row() >= slot.endRow()) {
            break;
          }
          cursor = new GroupCursor(cursor.slot(), ps.row() + 1, cursor.pass());
          Optional<PlannedSample> planned = planner.plan(ps.sample(), passSeed(cursor.pass()), skips);
          if (planned.isPresent()) {
            return new PackCandidate(planned.get(), new SampleRef(group, cursor.slot(), ps.row(), cursor.pass()));
          }
        }
      }
      closeOpen();
      emptySlotsInARow++;
      if (emptySlotsInARow > 2L * slots.size()) {
        throw new IllegalStateException("dataset group " + name + " yielded no usable sample in a whole pass over "
            + slots.size() + " shard units; skips so far: " + skips.snapshot());
      }
      int nextSlot = cursor.slot() + 1;
      if (nextSlot == slots.size()) {
        LOG.debug("group {} starts pass {}", name, cursor.pass() + 1);
        cursor = new GroupCursor(0, 0, cursor.pass() + 1);
      } else {
        cursor = new GroupCursor(nextSlot, 0, cursor.pass());
      }
    }
  }

  private long passSeed(long pass) {
    return DataRandom.hash(seed, name + "#" + pass);
  }

  /** Reads and plans the sample at {@code ref} again (for a restored overflow buffer). */
  PackCandidate reread(SampleRef ref) {
    ShardSlot slot = slots.get(ref.slot());
    GroupDataset ds = datasets.get(slot.dataset());
    try (SampleCursor c = ds.format().open(ds.source(), slot.unit(), ref.row(), new SkipCounter())) {
      if (c.hasNext()) {
        PositionedSample ps = c.next();
        if (ps.row() == ref.row()) {
          Optional<PlannedSample> planned = planner.plan(ps.sample(), passSeed(ref.pass()), new SkipCounter());
          if (planned.isPresent()) {
            return new PackCandidate(planned.get(), ref);
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("re-reading buffered sample " + slot.unit().key(ref.row()), e);
    }
    throw new IllegalStateException("buffered sample " + slot.unit().key(ref.row())
        + " no longer reads: the data changed since the position was saved");
  }

  /** The cursor of the current slot, opened at the cursor's row; null when the unit cannot be opened. */
  private SampleCursor openAt(ShardSlot slot) {
    if (open == null) {
      GroupDataset ds = datasets.get(slot.dataset());
      try {
        open = ds.format().open(ds.source(), slot.unit(), cursor.row(), skips);
      } catch (IOException e) {
        // a unit that cannot be opened is passed over like a bad row, never the end of a run
        skips.skip(SkipReason.CORRUPT_ROW, slot.unit().toString(), "cannot open: " + e.getMessage());
      }
    }
    return open;
  }

  private void closeOpen() {
    if (open != null) {
      open.close();
      open = null;
    }
  }

  @Override
  public void close() {
    closeOpen();
  }
}
