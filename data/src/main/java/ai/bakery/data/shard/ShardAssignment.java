package ai.bakery.data.shard;

import ai.bakery.data.DataRandom;
import ai.bakery.data.source.ShardUnit;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Deals a group's shard units to ranks, then to each rank's loader workers, as the reference's
 * {@code DistributedIterableDataset}: the used units (per {@code num_used_data}) are shuffled with the data
 * seed, each rank takes a contiguous {@code n / world} of them, each worker a contiguous
 * {@code per_rank / workers} of its rank's, read in reverse order; the remainder is left out. Every rank
 * computes the same list from the same files, so no coordination is needed.
 */
public final class ShardAssignment {
  private ShardAssignment() {}

  /** All used slots of a group in the reference's order before the shuffle. */
  public static List<ShardSlot> usedSlots(String group, List<GroupDataset> datasets, boolean shuffleLines,
      long shuffleSeed) throws IOException {
    List<ShardSlot> slots = new ArrayList<>();
    for (int d = 0; d < datasets.size(); d++) {
      GroupDataset ds = datasets.get(d);
      List<ShardUnit> units = ds.format().units(ds.source());
      if (units.isEmpty()) {
        throw new IOException("dataset group " + group + ": dataset " + ds.source().name() + " at "
            + ds.source().path() + " has no data units");
      }
      if (ds.countsFiles()) {
        slots.addAll(byFiles(d, units, ds.numUsedData()));
      } else {
        if (shuffleLines) {
          units = new ArrayList<>(units);
          shuffle(units, new DataRandom(DataRandom.hash(shuffleSeed, ds.source().name())));
        }
        slots.addAll(byRecords(d, units, ds.numUsedData()));
      }
    }
    return slots;
  }

  /** num_used_data files, cycling through the files when there are fewer (the reference repeats paths). */
  private static List<ShardSlot> byFiles(int d, List<ShardUnit> units, Long numUsed) {
    Map<String, List<ShardUnit>> byFile = new LinkedHashMap<>();
    for (ShardUnit u : units) {
      byFile.computeIfAbsent(u.file(), f -> new ArrayList<>()).add(u);
    }
    List<List<ShardUnit>> files = new ArrayList<>(byFile.values());
    long n = numUsed == null ? files.size() : numUsed;
    List<ShardSlot> out = new ArrayList<>();
    for (long i = 0; i < n; i++) {
      for (ShardUnit u : files.get((int) (i % files.size()))) {
        out.add(new ShardSlot(d, u, u.rowCount()));
      }
    }
    return out;
  }

  /** Units covering the first num_used_data records. */
  private static List<ShardSlot> byRecords(int d, List<ShardUnit> units, Long numUsed) {
    long left = numUsed == null ? Long.MAX_VALUE : numUsed;
    List<ShardSlot> out = new ArrayList<>();
    for (ShardUnit u : units) {
      if (left <= 0) {
        break;
      }
      long take = Math.min(left, u.rowCount());
      if (take > 0) {
        out.add(new ShardSlot(d, u, take));
      }
      left -= take;
    }
    return out;
  }

  /**
   * The slots of one worker of one rank.
   *
   * @throws IllegalArgumentException naming the group and the numbers when a worker would get no unit
   */
  public static List<ShardSlot> forWorker(String group, List<ShardSlot> used, long seed, int rank, int world,
      int worker, int workers) {
    int perRank = used.size() / world;
    int perWorker = perRank / workers;
    if (perWorker == 0) {
      throw new IllegalArgumentException("dataset group " + group + " has " + used.size()
          + " shard units (parquet row groups / record runs selected by num_used_data) but " + world
          + " ranks x " + workers + " loader workers = " + ((long) world * workers)
          + " readers need at least one each: add data, raise num_used_data, or lower num_workers");
    }
    List<ShardSlot> shuffled = new ArrayList<>(used);
    shuffle(shuffled, new DataRandom(DataRandom.hash(seed, "shard:" + group)));
    int start = rank * perRank + worker * perWorker;
    List<ShardSlot> mine = new ArrayList<>(shuffled.subList(start, start + perWorker));
    java.util.Collections.reverse(mine);
    return mine;
  }

  private static <T> void shuffle(List<T> list, DataRandom rng) {
    for (int i = list.size() - 1; i > 0; i--) {
      int j = rng.nextInt(i + 1);
      T t = list.get(i);
      list.set(i, list.get(j));
      list.set(j, t);
    }
  }
}
