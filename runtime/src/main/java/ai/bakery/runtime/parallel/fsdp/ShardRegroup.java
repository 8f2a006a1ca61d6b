package ai.bakery.runtime.parallel.fsdp;

import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.collective.Collective;
import ai.bakery.runtime.collective.DType;
import ai.bakery.runtime.collective.HostBuffer;
import ai.bakery.runtime.collective.ProcessMesh;
import ai.bakery.runtime.collective.ReduceOp;
import ai.bakery.runtime.parallel.ShardRange;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Brings a new generation's ranks to one committed sharded state when the group changed (a worker lost, one
 * leaving, one joining, ranks renumbered): every rank ends with its shard of the new layout
 * ({@code ShardRange.of(numel, newShardRank, newShardSize)}) of the weights, AdamW moments, step counts and EMA
 * of the newest committed step any rank holds, rebuilt from the old shards and the {@link PeerCopy peer copies}
 * the ranks bring. Collective over the new mesh: every rank calls {@link #run} once.
 *
 * <p>The ranks first all-gather what each holds (its old shard and committed step, its copy and the copy's
 * step), so each computes the same plan: for every old shard the lowest rank holding it, as its own shard or,
 * failing that, as a copy. Then per unit and part one reduce-scatter moves the data: each provider writes its
 * old pieces at their places in the new padded layout of a buffer filled with -0.0 (the additive identity, so
 * the sum is bit-exact, signed zeros included) and each rank receives its new shard; HYBRID_SHARD all-reduces
 * the buffer over the world instead and takes its row. Peak memory: one unit's full part, as a gather in
 * training. When some old shard is held by no rank (it and its copy are both gone) nothing moves and the result
 * says which: the state must then come from a checkpoint.
 */
public final class ShardRegroup {
  private static final Logger LOG = LoggerFactory.getLogger(ShardRegroup.class);

  private static final int LAYOUT = 0;
  private static final int STEP = 1;
  private static final int INDEX = 2;
  private static final int SIZE = 3;
  private static final int COPY_INDEX = 4;
  private static final int COPY_SIZE = 5;
  private static final int COPY_STEP = 6;
  private static final int HELD_RANK = 7;
  private static final int HELD_WORLD = 8;
  private static final int FIELDS = 9;

  /** How a group came to its state. */
  public enum Kind {
    /** Nothing committed anywhere: every rank starts from the job's initial weights. */
    FRESH,
    /** Every rank already held its shard of the new layout at the same step: nothing moved. */
    KEPT,
    /** Shards were rebuilt from the old shards and peer copies. */
    MOVED,
    /** Some old shard is held by no rank: the trainer is laid out but holds no state. */
    INCOMPLETE
  }

  /**
   * @param trainer this rank's trainer for the new mesh (built, kept or laid out again)
   * @param step the committed step it holds, -1 when none ({@link Kind#INCOMPLETE}) or nothing was committed
   * @param reason for {@link Kind#INCOMPLETE}: which shards are missing and why; otherwise a short summary
   */
  public record Result(ShardedRankTrainer trainer, Kind kind, long step, String reason) {}

  private ShardRegroup() {}

  /**
   * Regroups this rank. {@code held} is the trainer it brings (one built for this mesh if the worker is new),
   * {@code copy} its peer copy (may be invalid), {@code fresh} builds a trainer of the job's initial weights for the
   * mesh (used when nothing was committed anywhere). {@code held} is either returned (in the result) or closed.
   *
   * @throws IllegalStateException on every rank when the ranks' models differ
   */
  public static Result run(ShardedRankTrainer held, PeerCopy copy, ProcessMesh mesh,
      Function<ProcessMesh, ShardedRankTrainer> fresh) {
    ShardedState old = held.state();
    long[] mine = new long[FIELDS];
    mine[LAYOUT] = layoutHash(old);
    mine[STEP] = held.committedStep();
    mine[INDEX] = old.shardRank();
    mine[SIZE] = old.shardSize();
    boolean hasCopy = copy != null && copy.valid();
    mine[COPY_INDEX] = hasCopy ? copy.shardIndex() : -1;
    mine[COPY_SIZE] = hasCopy ? copy.shardSize() : 0;
    mine[COPY_STEP] = hasCopy ? copy.step() : -1;
    mine[HELD_RANK] = held.rank();
    mine[HELD_WORLD] = held.worldSize();
    long[][] all = allGather(mesh.world(), mine);
    int world = all.length;
    for (int r = 0; r < world; r++) {
      if (all[r][LAYOUT] != all[0][LAYOUT]) {
        held.close();
        throw new IllegalStateException("regroup: rank " + r + " holds another model layout than rank 0 (parameter"
            + " names, sizes, trainable flags or EMA differ); the workers must run the same job");
      }
    }
    boolean fits = held.rank() == mesh.rank() && held.worldSize() == mesh.dims().worldSize()
        && old.shardRank() == mesh.shard().rank() && old.shardSize() == mesh.shard().worldSize();

    long target = -1;
    for (long[] d : all) {
      target = Math.max(target, d[STEP]);
    }
    if (target < 0) {
      if (fits) {
        held.regroup(mesh);
        return new Result(held, Kind.FRESH, -1, "nothing committed: the initial weights");
      }
      held.close();
      return new Result(fresh.apply(mesh), Kind.FRESH, -1, "nothing committed: the initial weights");
    }

    boolean allKept = true;
    for (int r = 0; r < world; r++) {
      allKept &= all[r][STEP] == target && all[r][HELD_RANK] == r && all[r][HELD_WORLD] == world;
    }
    if (allKept) {
      held.regroup(mesh);
      return new Result(held, Kind.KEPT, target, "every rank kept its shard");
    }

    int root = -1;
    for (int r = 0; r < world && root < 0; r++) {
      if (all[r][STEP] == target) {
        root = r;
      }
    }
    int oldSize = (int) all[root][SIZE];
    int[] provider = new int[oldSize];
    boolean[] fromCopy = new boolean[oldSize];
    List<Integer> missing = new ArrayList<>();
    for (int k = 0; k < oldSize; k++) {
      provider[k] = -1;
      for (int r = 0; r < world && provider[k] < 0; r++) {
        if (all[r][STEP] == target && all[r][SIZE] == oldSize && all[r][INDEX] == k) {
          provider[k] = r;
        }
      }
      for (int r = 0; r < world && provider[k] < 0; r++) {
        if (all[r][COPY_STEP] == target && all[r][COPY_SIZE] == oldSize && all[r][COPY_INDEX] == k) {
          provider[k] = r;
          fromCopy[k] = true;
        }
      }
      if (provider[k] < 0) {
        missing.add(k);
      }
    }

    ShardedRankTrainer next = fits ? held : held.relayout(mesh);
    try {
      if (!missing.isEmpty()) {
        String reason = "shard" + (missing.size() > 1 ? "s " : " ") + missing + " of " + oldSize + " at committed step "
            + target + " " + (missing.size() > 1 ? "are" : "is") + " held by no rank of the new group: the worker"
            + " that held it and the one holding its peer copy (shard " + missing.stream().map(k -> (k - 1 + oldSize)
            % oldSize).toList() + ") are both gone";
        LOG.warn("Rank {} of {}: {}; the state must come from the latest checkpoint", mesh.rank(), world, reason);
        next.abort();
        return new Result(next, Kind.INCOMPLETE, -1, reason);
      }
      long[] counters = broadcastCounters(mesh.world(), root, held, next.state());
      move(held, copy, next, mesh, oldSize, provider, fromCopy);
      next.restoreCounters(counters[0], counters[1], counters[2], counters[3]);
      StringBuilder from = new StringBuilder();
      for (int k = 0; k < oldSize; k++) {
        from.append(k == 0 ? "" : ", ").append(k).append(fromCopy[k] ? " from the copy on rank " : " from rank ")
            .append(provider[k]);
      }
      String summary = "step " + target + ": shards of " + oldSize + " -> " + mesh.shard().worldSize() + " (old shard "
          + from + ")";
      return new Result(next, Kind.MOVED, target, summary);
    } catch (RuntimeException | Error e) {
      if (next != held) {
        next.close();
      }
      throw e;
    } finally {
      if (next != held) {
        held.close();
      }
    }
  }

  /**
   * Per unit (same order on every rank: the same model) and part: the providers' pieces laid out for the new
   * shard size, summed into place, unpacked into {@code next}.
   */
  private static void move(ShardedRankTrainer held, PeerCopy copy, ShardedRankTrainer next, ProcessMesh mesh,
      int oldSize, int[] provider, boolean[] fromCopy) {
    int me = mesh.rank();
    ShardedState src = held.state();
    ShardedState dst = next.state();
    ShardParts reader = new ShardParts(src);
    ShardParts writer = new ShardParts(dst);
    int newSize = dst.shardSize();
    int newIndex = dst.shardRank();
    boolean replicated = mesh.dims().replicateDegree() > 1;
    Map<String, Long> steps = dst.steps(); // already the moved ones: the moments to write follow them
    List<ShardUnit> srcUnits = src.units();
    List<ShardUnit> dstUnits = dst.units();
    List<ShardParts.Part> parts = ShardParts.parts(dst);
    try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
      for (int i = 0; i < dstUnits.size(); i++) {
        ShardUnit du = dstUnits.get(i);
        long n = du.shardNumel();
        long[] numels = ShardParts.numels(du);
        long[] oldOffsets = ShardParts.offsets(numels, oldSize);
        Tensor like = Torch.view(du.master());
        Tensor ownPiece = like.new_empty(new long[] {srcUnits.get(i).shardNumel()});
        Tensor send = like.new_empty(new long[] {newSize * n});
        for (ShardParts.Part part : parts) {
          send.fill_(new Scalar(-0.0f));
          for (int k = 0; k < oldSize; k++) {
            if (provider[k] != me) {
              continue;
            }
            Tensor piece;
            if (fromCopy[k]) {
              piece = Torch.view(copy.buffer(i, part));
            } else {
              reader.pack(srcUnits.get(i), part, ownPiece);
              piece = ownPiece;
            }
            place(piece, numels, oldOffsets, k, oldSize, du, n, send);
          }
          if (n == 0) {
            continue;
          }
          Tensor mineNew;
          if (!replicated) {
            mineNew = send.new_empty(new long[] {n});
            mesh.shard().reduceScatter(send.data_ptr(), mineNew.data_ptr(), n, DType.FLOAT32, ReduceOp.SUM);
          } else {
            mesh.world().allReduce(send.data_ptr(), newSize * n, DType.FLOAT32, ReduceOp.SUM);
            mineNew = send.narrow(0, newIndex * n, n);
          }
          writer.unpack(du, part, mineNew, steps);
        }
      }
    }
  }

  /**
   * Copies old shard {@code k}'s piece of every parameter ({@code piece}, laid out for {@code oldSize}) to where the
   * new layout of unit {@code du} puts those elements in {@code send} ({@code newSize} rows of {@code n}).
   */
  private static void place(Tensor piece, long[] numels, long[] oldOffsets, int k, int oldSize, ShardUnit du, long n,
      Tensor send) {
    for (int j = 0; j < numels.length; j++) {
      ShardRange old = ShardRange.of(numels[j], k, oldSize);
      if (old.length() == 0) {
        continue;
      }
      ShardedParameter sp = du.params().get(j);
      long chunk = sp.chunk();
      for (long q = old.start() / chunk; q * chunk < old.end(); q++) {
        long lo = Math.max(old.start(), q * chunk);
        long hi = Math.min(old.end(), (q + 1) * chunk);
        send.narrow(0, q * n + sp.offset() + (lo - q * chunk), hi - lo)
            .copy_(piece.narrow(0, oldOffsets[j] + (lo - old.start()), hi - lo));
      }
    }
  }

  /**
   * Root's counters (committed step, micro steps, skipped steps, tokens) and AdamW step count per parameter, on
   * every rank; the step counts are set on {@code next} at once (the moments to move follow them).
   */
  private static long[] broadcastCounters(Collective world, int root, ShardedRankTrainer held, ShardedState next) {
    List<String> names = new ArrayList<>(next.steps().keySet());
    long[] v = new long[4 + names.size()];
    if (world.rank() == root) {
      v[0] = held.committedStep();
      v[1] = held.trainStep().microStep();
      v[2] = held.trainStep().skippedSteps();
      v[3] = held.trainStep().tokensSeen();
      Map<String, Long> steps = held.state().steps();
      for (int i = 0; i < names.size(); i++) {
        v[4 + i] = steps.get(names.get(i));
      }
    }
    try (HostBuffer b = HostBuffer.of(v)) {
      world.broadcast(b.pointer(), v.length, DType.INT64, root);
      long[] out = b.toLongs();
      for (int i = 0; i < names.size(); i++) {
        next.setStep(names.get(i), out[4 + i]);
      }
      return out;
    }
  }

  private static long[][] allGather(Collective world, long[] mine) {
    try (HostBuffer send = HostBuffer.of(mine);
        HostBuffer recv = HostBuffer.allocate(DType.INT64, (long) mine.length * world.worldSize())) {
      world.allGather(send.pointer(), recv.pointer(), mine.length, DType.INT64);
      long[] flat = recv.toLongs();
      long[][] out = new long[world.worldSize()][];
      for (int r = 0; r < out.length; r++) {
        out[r] = Arrays.copyOfRange(flat, r * mine.length, (r + 1) * mine.length);
      }
      return out;
    }
  }

  /** A hash of what must match for shards to move: names, sizes and trainable flags in state order, the EMA. */
  static long layoutHash(ShardedState s) {
    long h = 1125899906842597L;
    for (ShardUnit u : s.units()) {
      h = 31 * h + u.name().hashCode();
      for (ShardedParameter sp : u.params()) {
        h = 31 * h + sp.name().hashCode();
        h = 31 * h + sp.numel();
        h = 31 * h + (sp.parameter().trainable() ? 1 : 2);
      }
    }
    return 31 * h + (s.hasEma() ? 1 : 2);
  }
}
