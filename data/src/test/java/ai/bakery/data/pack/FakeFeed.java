package ai.bakery.data.pack;

import ai.bakery.data.plan.PlannedSample;
import ai.bakery.data.plan.PlannedSplit;
import java.util.List;

/** Groups of one-split text samples with given costs, cycled; keys "g{group}-{index}". */
final class FakeFeed implements SampleFeed {
  private final int[][] costs;
  final long[] drawn;

  FakeFeed(int[]... costs) {
    this.costs = costs;
    this.drawn = new long[costs.length];
  }

  FakeFeed copy() {
    FakeFeed f = new FakeFeed(costs);
    System.arraycopy(drawn, 0, f.drawn, 0, drawn.length);
    return f;
  }

  @Override
  public int groups() {
    return costs.length;
  }

  @Override
  public PackCandidate next(int group) {
    return reread(new SampleRef(group, 0, drawn[group]++, 0));
  }

  @Override
  public PackCandidate reread(SampleRef ref) {
    int g = ref.group();
    int cost = costs[g][(int) (ref.row() % costs[g].length)];
    int[] ids = new int[cost];
    ids[0] = 1;
    ids[cost - 1] = 2;
    PlannedSample s = new PlannedSample("g" + g + "-" + ref.row(), cost,
        List.of(new PlannedSplit.Text(ids, 0, null, 0f)));
    return new PackCandidate(s, ref);
  }

  @Override
  public String groupName(int group) {
    return "group" + group;
  }
}
