package ai.bakery.data;

import ai.bakery.data.pack.PackedBatch;
import ai.bakery.data.plan.SpecialTokens;
import ai.bakery.data.shard.DataPosition;
import ai.bakery.data.shard.GroupSpec;
import ai.bakery.data.shard.LoaderWorker;
import ai.bakery.data.shard.ShardAssignment;
import ai.bakery.data.shard.ShardSlot;
import ai.bakery.data.shard.WorkerPosition;
import ai.bakery.data.source.SkipCounter;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The packed batches one rank trains on, in a fixed order: its {@code num_workers} loader workers each pack
 * their share of the data on a background thread (bounded by {@code prefetch} packs each) and packs are
 * taken from the workers in turn, as the reference's DataLoader does. {@link #position()} after any
 * {@link #next()} restores, in a fresh pipeline, to exactly the packs that would have come next.
 *
 * <pre>{@code
 * try (DataPipeline data = DataPipeline.builder()
 *     .setGroups(groups).setConfig(config).setTokens(tokens)
 *     .setRank(rank, worldSize).optRestore(savedPosition).build()) {
 *   PackedBatch batch = data.next();
 *   DataPosition position = data.position(); // save with the checkpoint
 * }
 * }</pre>
 */
public final class DataPipeline implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(DataPipeline.class);

  private final int rank;
  private final int worldSize;
  private final List<String> groupNames;
  private final SkipCounter skips;
  private final List<Lane> lanes = new ArrayList<>();
  private final WorkerPosition[] delivered;
  private int nextWorker;
  private volatile boolean closed;

  private DataPipeline(Builder b) throws IOException {
    this.rank = b.rank;
    this.worldSize = b.worldSize;
    this.skips = b.skips != null ? b.skips : new SkipCounter();
    this.groupNames = b.groups.stream().map(GroupSpec::name).toList();
    int workers = b.config.numWorkers();
    DataPosition restore = b.restore;
    if (restore != null && b.elastic && !sameLayout(restore, workers)) {
      restore = nextPassAfter(restore, workers, b.config.dataSeed());
    }
    if (restore != null) {
      checkCompatible(restore, workers);
    }
    List<List<ShardSlot>> used = new ArrayList<>();
    for (GroupSpec g : b.groups) {
      used.add(g.isLive() ? List.of() // a live group has no units; LoaderWorker reads its stream
          : ShardAssignment.usedSlots(g.name(), g.datasets(), g.shuffleLines(), g.shuffleSeed()));
    }
    delivered = new WorkerPosition[workers];
    try {
      for (int w = 0; w < workers; w++) {
        List<List<ShardSlot>> mine = new ArrayList<>();
        for (int g = 0; g < b.groups.size(); g++) {
          mine.add(b.groups.get(g).isLive() ? List.of() : ShardAssignment.forWorker(b.groups.get(g).name(),
              used.get(g), b.config.dataSeed(), rank, worldSize, w, workers));
        }
        WorkerPosition start = restore == null ? null : restore.workers().get(w);
        LoaderWorker worker = new LoaderWorker(b.config, b.tokens, b.groups, mine, rank, w, skips, start);
        delivered[w] = worker.position();
        lanes.add(new Lane(worker, b.config.prefetch(), "bakery-data-r" + rank + "-w" + w));
      }
    } catch (RuntimeException e) {
      lanes.forEach(Lane::stop);
      throw e;
    }
    nextWorker = restore == null ? 0 : restore.nextWorker();
    lanes.forEach(Lane::start);
  }

  private boolean sameLayout(DataPosition p, int workers) {
    return p.worldSize() == worldSize && p.numWorkers() == workers && p.rank() == rank
        && p.groups().equals(groupNames);
  }

  /**
   * After a change of ranks or workers no saved cursor means anything in the new deal of units: every group
   * starts its next pass (past the furthest pass in the saved position, so CFG dropout and timesteps are drawn
   * afresh) from the first unit, and held samples are dropped. Data already seen in the interrupted pass is
   * seen again; none is lost.
   */
  private DataPosition nextPassAfter(DataPosition old, int workers, long seed) {
    java.util.Map<String, Long> pass = new java.util.HashMap<>();
    for (WorkerPosition w : old.workers()) {
      w.groups().forEach((g, c) -> pass.merge(g, c.pass() + 1, Math::max));
    }
    LOG.warn("data position taken at rank {} of {} x {} workers restored at rank {} of {} x {} workers: each group"
        + " restarts at its next pass {}", old.rank(), old.worldSize(), old.numWorkers(), rank, worldSize, workers,
        pass);
    List<WorkerPosition> fresh = new ArrayList<>();
    for (int w = 0; w < workers; w++) {
      java.util.Map<String, ai.bakery.data.shard.GroupCursor> cursors = new java.util.LinkedHashMap<>();
      for (String g : groupNames) {
        cursors.put(g, new ai.bakery.data.shard.GroupCursor(0, 0, pass.getOrDefault(g, 0L)));
      }
      long rng = DataRandom.hash(seed, "groups@" + rank + "/" + w + "#elastic" + old.packs());
      // live positions already account for held samples, and worker 0 of rank 0 reads the live groups in
      // every layout: carry them over exactly
      java.util.Map<String, ai.bakery.data.live.LivePosition> live = w == 0 && old.rank() == 0
          ? old.workers().get(0).live() : java.util.Map.of();
      fresh.add(new WorkerPosition(cursors, new ai.bakery.data.pack.PackerState(rng, List.of()), 0, live));
    }
    return new DataPosition(DataPosition.VERSION, rank, worldSize, workers, groupNames, 0, fresh);
  }

  private void checkCompatible(DataPosition p, int workers) {
    if (p.worldSize() != worldSize || p.numWorkers() != workers || p.rank() != rank) {
      throw new IllegalArgumentException("the data position was taken at rank " + p.rank() + " of " + p.worldSize()
          + " with " + p.numWorkers() + " loader workers; this pipeline is rank " + rank + " of " + worldSize
          + " with " + workers + ": an exact data resume needs the same layout (start the data fresh otherwise)");
    }
    if (!p.groups().equals(groupNames)) {
      throw new IllegalArgumentException("the data position's groups " + p.groups() + " differ from the dataset"
          + " yaml's " + groupNames);
    }
  }

  public static Builder builder() {
    return new Builder();
  }

  /** The next pack; blocks while the worker whose turn it is prepares it. */
  public PackedBatch next() {
    if (closed) {
      throw new IllegalStateException("data pipeline is closed");
    }
    int w = nextWorker;
    Produced p = lanes.get(w).take();
    delivered[w] = p.after;
    nextWorker = (w + 1) % lanes.size();
    return p.batch;
  }

  /** Where this rank stands after the last pack {@link #next()} returned; save it with the checkpoint. */
  public DataPosition position() {
    return new DataPosition(DataPosition.VERSION, rank, worldSize, lanes.size(), groupNames, nextWorker,
        List.of(delivered));
  }

  /** Skipped samples per reason, over all workers, since this pipeline started. */
  public SkipCounter skips() {
    return skips;
  }

  @Override
  public void close() {
    closed = true;
    lanes.forEach(Lane::stop);
  }

  private record Produced(PackedBatch batch, WorkerPosition after, RuntimeException error) {}

  /**
   * A worker on its own thread, feeding a bounded queue. Stopped by a flag, never by interrupting it: an
   * interrupt inside file or image I/O would surface as a corrupt-data skip.
   */
  private static final class Lane {
    private final LoaderWorker worker;
    private final BlockingQueue<Produced> queue;
    private final Thread thread;
    private volatile boolean stopping;

    Lane(LoaderWorker worker, int prefetch, String name) {
      this.worker = worker;
      this.queue = new ArrayBlockingQueue<>(prefetch);
      this.thread = new Thread(this::run, name);
      thread.setDaemon(true);
    }

    void start() {
      thread.start();
    }

    private void run() {
      try {
        while (!stopping) {
          PackedBatch b = worker.nextPack();
          Produced p = new Produced(b, worker.position(), null);
          while (!stopping && !queue.offer(p, 50, TimeUnit.MILLISECONDS)) {
            // wait for the trainer to take a pack, checking for close
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (RuntimeException e) {
        if (!stopping) {
          LOG.error("data worker {} failed", thread.getName(), e);
          queue.offer(new Produced(null, null, e));
        }
      } finally {
        worker.close();
      }
    }

    Produced take() {
      try {
        Produced p = queue.take();
        if (p.error != null) {
          queue.offer(p); // every later call fails the same way
          throw new IllegalStateException("data worker " + thread.getName() + " failed: " + p.error.getMessage(),
              p.error);
        }
        return p;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for data", e);
      }
    }

    void stop() {
      stopping = true;
      worker.stopWaiting(); // a worker waiting on an idle live source returns at once
      if (thread.getState() == Thread.State.NEW) {
        worker.close();
        return;
      }
      try {
        thread.join(TimeUnit.SECONDS.toMillis(60));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      if (thread.isAlive()) {
        LOG.warn("data worker {} still busy 60 s after close; left to finish as a daemon", thread.getName());
      }
    }
  }

  /** Builds a {@link DataPipeline}: {@code setX} required, {@code optX} optional. */
  public static final class Builder {
    private List<GroupSpec> groups;
    private DataConfig config;
    private SpecialTokens tokens;
    private int rank;
    private int worldSize = 1;
    private DataPosition restore;
    private boolean elastic;
    private SkipCounter skips;

    /** The resolved dataset groups (see {@link ai.bakery.data.group.PipelineFactory}). */
    public Builder setGroups(List<GroupSpec> groups) {
      this.groups = List.copyOf(groups);
      return this;
    }

    public Builder setConfig(DataConfig config) {
      this.config = config;
      return this;
    }

    /** The tokenizer's special ids (vision_start / vision_end wrap images in packs). */
    public Builder setTokens(SpecialTokens tokens) {
      this.tokens = tokens;
      return this;
    }

    public Builder setRank(int rank, int worldSize) {
      if (worldSize < 1 || rank < 0 || rank >= worldSize) {
        throw new IllegalArgumentException("rank " + rank + " must be in [0, world size " + worldSize + ")");
      }
      this.rank = rank;
      this.worldSize = worldSize;
      return this;
    }

    /** Continue exactly where a saved position left off; a position of another layout is refused. */
    public Builder optRestore(DataPosition position) {
      this.restore = position;
      return this;
    }

    /**
     * Continue from a saved position: exactly when the ranks, workers and groups are those it was taken with;
     * otherwise (an elastic restart on a different world size) every group starts its next pass, with a warning.
     */
    public Builder optElasticRestore(DataPosition position) {
      this.restore = position;
      this.elastic = true;
      return this;
    }

    /** Count skips into this counter (default: a new one). */
    public Builder optSkips(SkipCounter counter) {
      this.skips = counter;
      return this;
    }

    /**
     * Lists units, deals them and starts the workers.
     *
     * @throws IOException naming a dataset whose files cannot be listed
     * @throws IllegalArgumentException naming a group with fewer units than ranks x workers
     */
    public DataPipeline build() throws IOException {
      Objects.requireNonNull(groups, "setGroups");
      Objects.requireNonNull(config, "setConfig");
      Objects.requireNonNull(tokens, "setTokens");
      if (groups.isEmpty()) {
        throw new IllegalArgumentException("no dataset groups");
      }
      return new DataPipeline(this);
    }
  }
}
