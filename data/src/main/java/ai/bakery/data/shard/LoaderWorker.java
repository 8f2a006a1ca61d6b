package ai.bakery.data.shard;

import ai.bakery.data.DataConfig;
import ai.bakery.data.DataRandom;
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
 */
public final class LoaderWorker implements SampleFeed, AutoCloseable {
  private final List<GroupSpec> groups;
  private final List<GroupStream> streams = new ArrayList<>();
  private final Packer packer;
  private long packs;

  /**
   * @param slots per group, this worker's slots ({@link ShardAssignment#forWorker})
   * @param start the worker's saved position, or null to start fresh
   */
  public LoaderWorker(DataConfig config, SpecialTokens tokens, List<GroupSpec> groups, List<List<ShardSlot>> slots,
      int rank, int worker, SkipCounter skips, WorkerPosition start) {
    this.groups = groups;
    for (int g = 0; g < groups.size(); g++) {
      GroupSpec spec = groups.get(g);
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
    GroupChooser chooser = new GroupChooser(weights, new DataRandom(rngState));
    List<PackCandidate> held = new ArrayList<>();
    if (start != null) {
      for (SampleRef ref : start.packer().held()) {
        if (groups.get(ref.group()).resume()) {
          held.add(reread(ref));
        }
      }
      packs = start.packs();
    }
    PackBuilder builder = new PackBuilder(tokens.visionStart(), tokens.visionEnd());
    if (DataConfig.FIRST_FIT.equals(config.packingStrategy())) {
      packer = new FirstFitPacker(config, this, chooser, held, skips, builder);
    } else {
      boolean[] mandatory = new boolean[groups.size()];
      for (int g = 0; g < groups.size(); g++) {
        mandatory[g] = groups.get(g).mandatory();
      }
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
      cursors.put(s.name(), s.cursor());
    }
    PackerState state = packer.state();
    return new WorkerPosition(cursors, state, packs);
  }

  @Override
  public int groups() {
    return streams.size();
  }

  @Override
  public PackCandidate next(int group) {
    return streams.get(group).next();
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
    streams.forEach(GroupStream::close);
  }
}
