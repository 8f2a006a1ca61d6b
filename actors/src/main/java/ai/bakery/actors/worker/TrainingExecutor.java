package ai.bakery.actors.worker;

import ai.bakery.actors.flight.BatchFlightClient;
import ai.bakery.actors.flight.BatchPrefetcher;
import ai.bakery.actors.job.BatchId;
import ai.bakery.actors.security.NodeIdentity;
import ai.bakery.data.pack.PackedBatch;
import ai.bakery.data.pack.PackedBatchArrow;
import ai.bakery.runtime.collective.Collective;
import ai.bakery.runtime.collective.CollectiveException;
import ai.bakery.runtime.collective.DType;
import ai.bakery.runtime.collective.Rendezvous;
import ai.bakery.runtime.collective.TcpRingCollective;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.train.StepResult;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Function;
import org.apache.arrow.flight.Location;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.pekko.actor.typed.ActorSystem;
import org.bytedeco.javacpp.LongPointer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The real device side of a worker: one rank of the job ({@link ClusterRank}: data parallel, or FULL_SHARD /
 * HYBRID_SHARD) driven by the coordinator's two-phase steps.
 *
 * <ul>
 *   <li>{@link #formGroup}: TCP ring groups per generation (one ring, or a sharded rank's mesh), met through the
 *       cluster's rendezvous; the old groups are closed first (which also frees a step stuck on a dead peer).
 *       The ranks then compare their committed steps and, unless all hold the job's committed step, take the
 *       state of the first rank that does (data parallel: weights, AdamW moments, EMA, counters by broadcast;
 *       sharded ranks cannot, and fail the forming with a clear error).
 *   <li>{@link #computeStep}: fetches the step's packed batches from the data shards' Flight servers (bounded
 *       prefetch), decodes them and computes; the losses are normalised by the group's token counts and the
 *       gradients averaged, but nothing is applied until {@link #commit}; {@link #abort} discards.
 * </ul>
 *
 * Job step {@code s} (the coordinator counts from 1) is the trainer's step {@code s - 1}, so seeds, learning
 * rates and step lines match a single-process {@code bakery train}. All trainer work runs in call order on
 * one thread of its own, never on the actor's.
 */
public final class TrainingExecutor implements StepExecutor, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(TrainingExecutor.class);

  /** Where this rank's Flight clients, ring and exports come from. */
  public record Settings(String token, NodeIdentity tls, TcpRingCollective.Options ring, int prefetch, Path export) {}

  private final String id;
  private final ClusterRank trainer;
  private final Rendezvous rendezvous;
  private final Settings settings;
  private final ExecutorService thread;
  private final ExecutorService io = Executors.newFixedThreadPool(2, daemon("bakery-fetch"));
  private final BatchPrefetcher prefetcher;
  private final BufferAllocator allocator = new RootAllocator();
  private final CheckpointWriter checkpoints = new CheckpointWriter();
  private final Map<String, BatchFlightClient> clients = new HashMap<>();
  private volatile ClusterRank.Groups group;
  private long pendingStep = -1;
  /** The generation being formed on the trainer's thread (-1: none); a newer order interrupts it. */
  private long forming = -1;
  /** Steps of this generation and older are abandoned (aborted, or a newer group ordered): stop fetching for them. */
  private volatile long abandonedThrough = -1;
  /** How long a step's fetch retries a data shard that does not answer, until the step is abandoned. */
  static final long FETCH_RETRY_MILLIS = 30_000;
  private Thread trainerThread;

  /**
   * @param trainer this rank (closed with this executor); its groups are replaced per generation
   * @param system the node's actor system (the prefetch stream runs on it)
   */
  public TrainingExecutor(String id, ClusterRank trainer, Rendezvous rendezvous, ActorSystem<?> system,
      Settings settings) {
    this.id = id;
    this.trainer = trainer;
    this.rendezvous = rendezvous;
    this.settings = settings;
    this.thread = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "bakery-train-" + id);
      t.setDaemon(true);
      trainerThread = t;
      return t;
    });
    this.prefetcher = new BatchPrefetcher(system, Math.max(1, settings.prefetch()), io);
  }

  /** The rank the job's sharding strategy asks for ({@link ClusterRank#forJob}). */
  public static TrainingExecutor create(String id, JobConfig config, Rendezvous rendezvous, ActorSystem<?> system,
      Settings settings) {
    return new TrainingExecutor(id, ClusterRank.forJob(config), rendezvous, system, settings);
  }

  @Override
  public CompletionStage<Void> formGroup(long generation, int rank, List<String> ranks, long committedStep) {
    return formGroup(generation, rank, ranks, committedStep, null);
  }

  @Override
  public CompletionStage<Void> formGroup(long generation, int rank, List<String> ranks, long committedStep,
      Path restoreFrom) {
    abandonedThrough = Math.max(abandonedThrough, generation - 1);
    closeGroupOlderThan(generation);
    synchronized (this) {
      if (forming >= 0 && forming < generation) {
        // an older generation is still meeting its peers (one of them may be dead): stop waiting for it
        trainerThread.interrupt();
      }
    }
    return run(() -> {
      closeGroupOlderThan(generation);
      if (pendingStep > 0 && pendingStep == committedStep) {
        // the coordinator committed this step but its Commit never came (it failed over in between): apply it
        LOG.info("{}: step {} was committed by the job; applying it", id, pendingStep);
        trainer.commit();
      } else {
        trainer.abort();
      }
      pendingStep = -1;
      ClusterRank.Groups g;
      synchronized (this) {
        if (abandonedThrough >= generation) {
          // a newer order came while this one waited in the queue, too early for its interrupt: its peers have
          // moved on, and meeting them would only wait out the connect timeout
          throw new CollectiveException(CollectiveException.Reason.RENDEZVOUS, "generation " + generation
              + " was superseded before it began forming");
        }
        forming = generation;
      }
      try {
        g = trainer.join(generation, rank, ranks.size(), (name, gen, r, size) ->
            TcpRingCollective.create(name, gen, r, size, rendezvous, settings.ring()));
      } finally {
        synchronized (this) {
          forming = -1;
        }
      }
      group = g;
      if (restoreFrom != null) {
        long t0 = System.nanoTime();
        trainer.restore(restoreFrom);
        if (trainer.heldStep() != committedStep) {
          throw new IllegalStateException(restoreFrom + " holds step " + trainer.heldStep() + ", the job resumes after "
              + committedStep);
        }
        LOG.info("{}: rank {} of {} in generation {} restored step {} from {} in {} ms; state {}", id, rank,
            ranks.size(), generation, committedStep, restoreFrom, (System.nanoTime() - t0) / 1_000_000,
            trainer.describe());
        return null;
      }
      long[] steps = gatherSteps(g.world(), trainer.heldStep());
      int root = -1;
      boolean agree = true;
      for (int r = 0; r < steps.length; r++) {
        if (steps[r] == committedStep && root < 0) {
          root = r;
        }
        agree &= steps[r] == committedStep;
      }
      if (root < 0) {
        throw new StateUnavailableException("generation " + generation + ": no rank holds committed step " + committedStep
            + " (ranks hold " + java.util.Arrays.toString(steps) + "; this rank: " + trainer.describe()
            + "); restart the job from its checkpoint");
      }
      if (!agree) {
        try {
          trainer.takeState(root, steps);
        } catch (StateUnavailableException e) {
          throw e;
        } catch (IllegalStateException e) {
          throw new StateUnavailableException(e.getMessage(), e); // no peer can give it: the checkpoint must
        }
      }
      LOG.info("{}: rank {} of {} in generation {} at step {}{}; state {}", id, rank, ranks.size(), generation,
          committedStep, agree ? "" : " (state from rank " + root + ")", trainer.describe());
      return null;
    });
  }

  @Override
  public CompletionStage<StepReport> computeStep(long generation, long step, List<BatchId> batches,
      Map<String, String> sources) {
    // fetching overlaps the previous step's commit; the compute queues behind it on the trainer's thread
    return fetch(generation, batches, sources).thenApplyAsync(packs -> {
          ClusterRank.Groups g = group;
          if (g == null || g.generation() != generation) {
            throw new IllegalStateException("step " + step + " of generation " + generation + " but this rank is in "
                + (g == null ? "no group" : "generation " + g.generation()));
          }
          Iterator<PackedBatch> it = packs.iterator();
          var pending = trainer.compute(step - 1, () -> {
            if (!it.hasNext()) {
              throw new IllegalStateException("step " + step + " needs more micro-batches than the " + packs.size()
                  + " assigned to this rank (gradient_accumulation_steps vs the coordinator's batches per rank)");
            }
            return it.next();
          });
          pendingStep = step;
          StepResult r = pending.result();
          return new StepReport(r.ce(), r.mse(), r.gradNorm(), r.lr(), r.tokens());
        }, thread).whenComplete((r, err) -> {
          if (err != null) {
            LOG.warn("{}: step {} of generation {} failed", id, step, generation, err);
          }
        });
  }

  private CompletionStage<List<PackedBatch>> fetch(long generation, List<BatchId> batches,
      Map<String, String> sources) {
    Function<BatchId, byte[]> get = b -> fetchRetrying(generation, b, sources.get(b.shard()));
    return prefetcher.fetchAll(batches, get, bytes -> PackedBatchArrow.fromIpcBytes(bytes, allocator));
  }

  /**
   * A data node that does not answer may be dead: keep trying until the coordinator (which notices the loss
   * within seconds) abandons the step, rather than fail at once and have it retry the same dead shard in a
   * loop of aborted steps.
   */
  private byte[] fetchRetrying(long generation, BatchId b, String uri) {
    long deadline = System.currentTimeMillis() + FETCH_RETRY_MILLIS;
    while (true) {
      try {
        return client(b.shard(), uri).fetch(b);
      } catch (RuntimeException e) {
        if (abandonedThrough >= generation || System.currentTimeMillis() > deadline) {
          throw e;
        }
        LOG.debug("{}: fetching {} failed ({}); retrying", id, b, e.toString());
        try {
          Thread.sleep(250);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw e;
        }
      }
    }
  }

  private synchronized BatchFlightClient client(String shard, String uri) {
    if (uri == null || uri.isEmpty()) {
      throw new IllegalStateException("no Flight server is known for data shard " + shard);
    }
    return clients.computeIfAbsent(uri, u -> new BatchFlightClient(allocator, new Location(URI.create(u)),
        settings.token(), settings.tls()));
  }

  @Override
  public void commit(long step) {
    run(() -> {
      if (pendingStep != step) {
        if (pendingStep < 0) {
          // every worker hears every commit: a stand-by, or a rank whose step was aborted, has nothing to apply
          LOG.debug("{}: commit of step {}: nothing computed here", id, step);
        } else {
          LOG.warn("{}: commit of step {} but the computed step is {}; ignored", id, step, pendingStep);
        }
        return null;
      }
      trainer.commit();
      pendingStep = -1;
      return null;
    });
  }

  @Override
  public void abort(long generation, long step) {
    abandonedThrough = Math.max(abandonedThrough, generation);
    // a peer may be dead: closing the group fails our collectives at once instead of at their timeout
    closeGroupOlderThan(generation + 1);
    run(() -> {
      trainer.abort();
      pendingStep = -1;
      return null;
    });
  }

  @Override
  public CompletionStage<CheckpointWriter.Part> saveCheckpoint(long step, String saveId, List<String> ranks, int index,
      Path root) {
    // queued behind the step's commit on the trainer's thread; the next step waits only for the copy to host memory
    return run(() -> {
      if (trainer.heldStep() != step) {
        throw new IllegalStateException("asked to save step " + step + " but this rank holds step "
            + trainer.heldStep());
      }
      return checkpoints.save(trainer, step, saveId, ranks, index, root);
    }).thenCompose(part -> part).whenComplete((p, err) -> {
      if (err != null) {
        LOG.warn("{}: checkpoint of step {} failed: {}", id, step, Worker.describe(err));
      } else if (p.part() >= 0) {
        LOG.info("{}: checkpoint of step {}: part {} of {} durable (step stalled {} ms, whole save {} ms)", id, step,
            p.part(), p.parts(), p.stallNanos() / 1_000_000, p.totalNanos() / 1_000_000);
      }
    });
  }

  @Override
  public CompletionStage<Void> finish(long committedStep) {
    return run(() -> {
      trainer.abort();
      LOG.info("{}: job finished at step {}; state {}", id, committedStep, trainer.describe());
      if (settings.export() != null) {
        Files.createDirectories(settings.export());
        Path file = settings.export().resolve(id + ".safetensors");
        trainer.export(file, committedStep);
        LOG.info("{}: weights written to {}", id, file);
      }
      closeGroupOlderThan(Long.MAX_VALUE);
      return null;
    });
  }

  /** This rank (for tests and benches: fingerprints, state sizes). */
  public ClusterRank rank() {
    return trainer;
  }

  private void closeGroupOlderThan(long generation) {
    ClusterRank.Groups g = group;
    if (g != null && g.generation() < generation) {
      g.close();
    }
  }

  /** Each rank's committed step, by rank. */
  private static long[] gatherSteps(Collective g, long mine) {
    try (LongPointer send = new LongPointer(1); LongPointer recv = new LongPointer(g.worldSize())) {
      send.put(0, mine);
      g.allGather(send, recv, 1, DType.INT64);
      long[] out = new long[g.worldSize()];
      recv.get(out);
      return out;
    }
  }

  private interface Work<T> {
    T call() throws Exception;
  }

  private <T> CompletableFuture<T> run(Work<T> work) {
    CompletableFuture<T> f = new CompletableFuture<>();
    thread.execute(() -> {
      synchronized (this) {
        Thread.interrupted(); // an interrupt meant for an earlier formation
      }
      try {
        f.complete(work.call());
      } catch (Throwable t) {
        LOG.warn("{}: {}", id, t.toString());
        f.completeExceptionally(t);
      }
    });
    return f;
  }

  private static java.util.concurrent.ThreadFactory daemon(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }

  @Override
  public void close() {
    closeGroupOlderThan(Long.MAX_VALUE);
    thread.shutdown();
    boolean trainerIdle = awaitQuietly(thread, "the trainer thread");
    io.shutdownNow();
    synchronized (this) {
      for (BatchFlightClient c : clients.values()) {
        try {
          c.close(); // cancels a fetch in flight, so the io threads can finish
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      clients.clear();
    }
    boolean fetchesDone = awaitQuietly(io, "the batch fetches");
    checkpoints.close();
    // Native buffers still in use by a thread that did not stop must not be freed under it (glibc aborts the JVM
    // on the corrupted heap): leak them instead, the process is ending.
    if (trainerIdle) {
      trainer.close();
    }
    if (trainerIdle && fetchesDone) {
      allocator.close();
    }
  }

  private static boolean awaitQuietly(ExecutorService pool, String what) {
    try {
      if (pool.awaitTermination(30, java.util.concurrent.TimeUnit.SECONDS)) {
        return true;
      }
      LOG.warn("{} did not stop within 30 s; its native memory is left to the process exit", what);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return false;
  }
}
