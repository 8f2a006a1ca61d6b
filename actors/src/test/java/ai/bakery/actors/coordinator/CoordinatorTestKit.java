package ai.bakery.actors.coordinator;

import ai.bakery.actors.job.BatchId;
import ai.bakery.actors.worker.StepExecutor;
import ai.bakery.actors.worker.StepReport;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/** In-memory stand-ins for the device side: a "gradient reduction" that fails when a rank is missing. */
public final class CoordinatorTestKit {
  private CoordinatorTestKit() {}

  /** Ranks of one step meet here; the reduction completes only when every rank arrived. */
  public static final class Group {
    final Map<String, CompletableFuture<List<BatchId>>> meetings = new ConcurrentHashMap<>();
    final Map<String, TreeMap<Integer, List<BatchId>>> arrived = new ConcurrentHashMap<>();
    /** What committed steps applied: the state a (re)joining rank copies from its peers. */
    final Map<Long, List<BatchId>> applied = new ConcurrentHashMap<>();

    /** The "reduced gradient" is every rank's batches, in rank order. */
    synchronized CompletableFuture<List<BatchId>> arrive(long gen, long step, int rank, int world, List<BatchId> mine) {
      String key = gen + "/" + step;
      CompletableFuture<List<BatchId>> f = meetings.computeIfAbsent(key,
          k -> new CompletableFuture<List<BatchId>>().orTimeout(400, TimeUnit.MILLISECONDS));
      TreeMap<Integer, List<BatchId>> in = arrived.computeIfAbsent(key, k -> new TreeMap<>());
      in.put(rank, mine);
      if (in.size() == world) {
        List<BatchId> all = new ArrayList<>();
        in.values().forEach(all::addAll);
        f.complete(all);
      }
      return f;
    }
  }

  public static final class Executor implements StepExecutor {
    final Group group;
    public final List<BatchId> applied = new ArrayList<>();
    volatile List<BatchId> model = List.of();
    int rank;
    int world;
    long pendingStep = -1;
    List<BatchId> pending;
    public Executor(Group group) {
      this.group = group;
    }

    @Override
    public synchronized CompletionStage<Void> formGroup(long generation, int rank, List<String> ranks, long committed) {
      this.rank = rank;
      this.world = ranks.size();
      // State sync: the committed model as the peers hold it.
      List<BatchId> m = new ArrayList<>();
      new TreeMap<>(group.applied).headMap(committed + 1).values().forEach(m::addAll);
      applied.clear();
      applied.addAll(m);
      pending = null;
      return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletionStage<StepReport> computeStep(long generation, long step, List<BatchId> batches,
        Map<String, String> sources) {
      synchronized (this) {
        pending = null;
      }
      return group.arrive(generation, step, rank, world, batches).thenApply(reduced -> {
        synchronized (this) {
          pendingStep = step;
          pending = reduced;
        }
        return StepReport.NONE;
      });
    }

    @Override
    public synchronized void commit(long step) {
      if (pending != null && pendingStep == step) {
        group.applied.put(step, pending);
        applied.addAll(pending);
        pending = null;
      }
    }

    @Override
    public synchronized void abort(long generation, long step) {
      pending = null;
    }
  }

}
