package ai.bakery.data.shard;

import ai.bakery.data.DataConfig;
import ai.bakery.data.DataRandom;
import ai.bakery.data.live.LiveGroupReader;
import ai.bakery.data.live.LivePosition;
import ai.bakery.data.pack.FirstFitPacker;
import ai.bakery.data.pack.GroupChooser;
import ai.bakery.data.pack.PackBuilder;
import ai.bakery.data.pack.PackCandidate;
import ai.bakery.data.pack.PackedBatch;
import ai.bakery.data.pack.Packer;
import ai.bakery.data.pack.PackerState;
import ai.bakery.data.pack.SampleFeed;
import ai.bakery.data.pack.SampleRef;
import ai.bakery.data.pack.SequencePacker;
import ai.bakery.data.plan.SpecialTokens;
import ai.bakery.data.source.SkipCounter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One loader worker of one rank (a DataLoader worker in the reference): its share of every group's units, a
 * read stream per group and its own packer. Single-threaded; {@link #position()} is exact between packs.
 *
 * <p>Live groups ({@link GroupSpec#live()}) are read by worker 0 of rank 0 only (one stream per source). When
 * the packer draws a live group that has nothing buffered, the sample comes from another group that has data,
 * drawn by weight, so an idle source never stalls packing; only when no group has data does the worker wait.
 * A mandatory live group is waited for.
 */
public final class LoaderWorker implements SampleFeed, AutoCloseable {
  private final List<GroupSpec> groups;
  private final List<GroupStream> streams = new ArrayList<>();
  private final List<LiveGroupReader> live = new ArrayList<>();
  private final boolean[] mandatory;
  private final DataRandom substitute;
  private final Packer packer;
  private long packs;
  private volatile boolean stopWaiting;

  /**
   * @param slots per group, this worker's slots ({@link ShardAssignment#forWorker})
   * @param start the worker's saved position, or null to start fresh
   */
  public LoaderWorker(DataConfig config, SpecialTokens tokens, List<GroupSpec> groups, List<List<ShardSlot>> slots,
      int rank, int worker, SkipCounter skips, WorkerPosition start) {
    this.groups = groups;
    boolean readsLive = rank == 0 && worker == 0;
    mandatory = new boolean[groups.size()];
    for (int g = 0; g < groups.size(); g++) {
      GroupSpec spec = groups.get(g);
      // a live group is read by one worker; elsewhere it is an idle group that can contribute nothing
      mandatory[g] = spec.mandatory() && (!spec.isLive() || readsLive);
      if (spec.isLive()) {
        streams.add(null);
        if (!readsLive) {
          live.add(null);
          continue;
        }
        LivePosition from = LivePosition.START;
        if (start != null && spec.resume() && start.live().containsKey(spec.name())) {
          from = start.live().get(spec.name());
        }
        try {
          live.add(new LiveGroupReader(g, spec.name(), spec.live().source().get(), from, spec.planner(),
              config.dataSeed(), skips, spec.live().buffer()));
        } catch (RuntimeException e) {
          close();
          throw e;
        }
        continue;
      }
      live.add(null);
      GroupCursor cursor = GroupCursor.START;
      if (start != null && spec.resume() && start.groups().containsKey(spec.name())) {
        cursor = start.groups().get(spec.name());
      }
      streams.add(new GroupStream(g, spec.name(), spec.datasets(), slots.get(g), spec.planner(), config.dataSeed(),
          skips, cursor));
    }
    long rngState = start != null ? start.packer().groupRng()
        : DataRandom.hash(config.dataSeed(), "groups@" + rank + "/" + worker);
    double[] weights = groups.stream().mapToDouble(GroupSpec::weight).toArray();
    substitute = new DataRandom(DataRandom.hash(config.dataSeed(), "live-substitute@" + rank + "/" + worker));
    GroupChooser chooser = new GroupChooser(weights, new DataRandom(rngState));
    List<PackCandidate> held = new ArrayList<>();
    if (start != null) {
      for (SampleRef ref : start.packer().held()) {
        // a live group's held samples come again from its stream (its position starts at the oldest held)
        if (groups.get(ref.group()).resume() && !groups.get(ref.group()).isLive()) {
          held.add(reread(ref));
        }
      }
      packs = start.packs();
    }
    PackBuilder builder = new PackBuilder(tokens.visionStart(), tokens.visionEnd());
    if (DataConfig.FIRST_FIT.equals(config.packingStrategy())) {
      packer = new FirstFitPacker(config, this, chooser, held, skips, builder);
    } else {
      packer = new SequencePacker(config, this, mandatory, chooser, held, skips, builder);
    }
  }

  public PackedBatch nextPack() {
    PackedBatch b = packer.next();
    packs++;
    return b;
  }

  public WorkerPosition position() {
    Map<String, GroupCursor> cursors = new LinkedHashMap<>();
    for (GroupStream s : streams) {
      if (s != null) {
        cursors.put(s.name(), s.cursor());
      }
    }
    PackerState state = packer.state();
    Map<String, LivePosition> livePositions = new LinkedHashMap<>();
    for (int g = 0; g < live.size(); g++) {
      LiveGroupReader r = live.get(g);
      if (r != null) {
        int group = g;
        livePositions.put(r.name(), r.position(state.held().stream().filter(h -> h.group() == group).toList()));
      }
    }
    return new WorkerPosition(cursors, state, packs, livePositions);
  }

  @Override
  public int groups() {
    return streams.size();
  }

  @Override
  public PackCandidate next(int group) {
    if (!groups.get(group).isLive()) {
      return streams.get(group).next();
    }
    LiveGroupReader r = live.get(group);
    PackCandidate c = r == null ? null : r.poll();
    if (c != null) {
      return c;
    }
    if (mandatory[group]) {
      return waitFor(group);
    }
    return substitute(group);
  }

  /** A sample from another group with data, drawn by weight; waits only when no group has any. */
  private PackCandidate substitute(int idle) {
    while (true) {
      double total = 0;
      for (int g = 0; g < groups.size(); g++) {
        if (g != idle && !groups.get(g).isLive()) {
          total += groups.get(g).weight();
        }
      }
      if (total > 0) {
        double x = substitute.nextDouble() * total;
        int last = -1;
        for (int g = 0; g < groups.size(); g++) {
          if (g == idle || groups.get(g).isLive() || groups.get(g).weight() <= 0) {
            continue;
          }
          last = g;
          x -= groups.get(g).weight();
          if (x < 0) {
            return streams.get(g).next();
          }
        }
        return streams.get(last).next();
      }
      // only live groups: take whichever has a sample, waiting briefly on each in turn
      for (int g = 0; g < groups.size(); g++) {
        LiveGroupReader r = live.get(g);
        if (r != null) {
          PackCandidate c = r.poll(20);
          if (c != null) {
            return c;
          }
        }
      }
      if (stopWaiting) {
        throw new IllegalStateException("data worker stopped while waiting for live data");
      }
      if (live.stream().allMatch(java.util.Objects::isNull)) {
        throw new IllegalStateException("dataset groups " + groups.stream().map(GroupSpec::name).toList()
            + " are all live and read by worker 0 of rank 0: this worker has no data (use num_workers 1 or add a"
            + " static group)");
      }
    }
  }

  private PackCandidate waitFor(int group) {
    while (!stopWaiting) {
      PackCandidate c = live.get(group).poll(50);
      if (c != null) {
        return c;
      }
    }
    throw new IllegalStateException("data worker stopped while waiting for mandatory live group "
        + groups.get(group).name());
  }

  /** Makes a wait for live data end at once (the pipeline is closing). */
  public void stopWaiting() {
    stopWaiting = true;
  }

  @Override
  public PackCandidate reread(SampleRef ref) {
    return streams.get(ref.group()).reread(ref);
  }

  @Override
  public String groupName(int group) {
    return groups.get(group).name();
  }

  @Override
  public void close() {
    for (GroupStream s : streams) {
      if (s != null) {
        s.close();
      }
    }
    for (LiveGroupReader r : live) {
      if (r != null) {
        r.close();
      }
    }
  }
}
