package ai.bakery.runtime.collective;

import ai.bakery.model.tensor.ReduceDtype;
import ai.bakery.model.tensor.ScalarTypes;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.concurrent.CompletableFuture;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Averages gradients across a group the way DDP does: consecutive gradients are flattened into buckets of
 * about {@link Config#bucketBytes()} (25 MB by default), each bucket is reduced with one collective, and the
 * results are copied back into the gradients. Optionally the buckets travel in bf16 ({@code reduceDtype}),
 * halving the traffic, and are cast back to the gradients' dtype afterwards.
 *
 * <p>{@link #reduceScatter} is the FULL_SHARD variant: the gradients form one flat vector, padded to a
 * multiple of the group size, and each rank gets back the average of its contiguous shard of it.
 *
 * <p>The gradients must live where the group's backend reads memory (host for the TCP ring, CUDA for NCCL).
 * Raw memory comes from libtorch through {@link Torch#view}; every temporary is released per bucket.
 */
public final class GradientBucketer {
  /**
   * @param bucketBytes bytes of one bucket in the reduce dtype; a larger gradient travels alone
   * @param reduceDtype dtype on the wire (FLOAT32 or BFLOAT16); null keeps each gradient's own dtype
   */
  public record Config(long bucketBytes, DType reduceDtype) {
    public Config {
      if (bucketBytes < 1) {
        throw new IllegalArgumentException("bucketBytes must be positive, got " + bucketBytes);
      }
      if (reduceDtype == DType.INT64) {
        throw new IllegalArgumentException("reduceDtype must be FLOAT32, BFLOAT16 or null, got INT64");
      }
    }

    /** From the training config's {@code reduce_dtype}. */
    public static Config of(long bucketBytes, ReduceDtype reduceDtype) {
      return new Config(bucketBytes, reduceDtype == null ? null : switch (reduceDtype) {
        case FP32 -> DType.FLOAT32;
        case BF16 -> DType.BFLOAT16;
      });
    }

    /** 25 MB buckets in the gradients' own dtype, as DDP's default. */
    public static Config defaults() {
      return new Config(25L << 20, null);
    }
  }

  /**
   * This rank's part of the averaged flat gradient vector: elements {@code [offset, offset + values.size())}
   * of the concatenation (padded with zeros to {@code paddedNumel}); {@code realNumel} of them are real.
   */
  public record Shard(NDArray values, long offset, long realNumel, long totalNumel, long paddedNumel) {}

  private final Collective group;
  private final Config config;

  public GradientBucketer(Collective group, Config config) {
    this.group = group;
    this.config = config;
  }

  /** A bucket on the wire: its flat tensor stays alive until the collective is done with its memory. */
  private record Pending(List<Integer> members, Tensor flat, CompletableFuture<Void> done) {}

  /**
   * Averages {@code grads} in place across the group; returns how many buckets (collectives) it took. Two
   * buckets are in flight at a time, so one is flattened or copied back while the other is on the wire.
   */
  public int allReduce(List<NDArray> grads) {
    List<List<Integer>> buckets = plan(grads);
    Deque<Pending> inFlight = new ArrayDeque<>();
    try {
      for (List<Integer> bucket : buckets) {
        Tensor flat;
        DType wire = wireDtype(grads.get(bucket.get(0)), bucket.get(0));
        try (PointerScope scope = new PointerScope()) {
          TensorVector parts = new TensorVector();
          for (int i : bucket) {
            parts.push_back(Torch.view(grads.get(i)).reshape(-1));
          }
          flat = torch.cat(parts);
          if (dtypeOf(flat.scalar_type()) != wire) {
            flat = flat.to(scalarType(wire));
          }
          flat.retainReference(); // outlives the scope until its collective is done
        }
        inFlight.add(new Pending(bucket, flat, group.allReduceAsync(flat.data_ptr(), flat.numel(), wire, ReduceOp.AVG)));
        if (inFlight.size() > 1) {
          finish(inFlight.poll(), grads);
        }
      }
      while (!inFlight.isEmpty()) {
        finish(inFlight.poll(), grads);
      }
    } finally {
      // On failure the group is broken and its operations end promptly; wait so no memory is freed under them.
      for (Pending p : inFlight) {
        p.done().handle((ok, error) -> null).join();
        p.flat().releaseReference();
      }
    }
    return buckets.size();
  }

  private static void finish(Pending p, List<NDArray> grads) {
    try {
      Collective.await(p.done());
      try (PointerScope scope = new PointerScope()) {
        long offset = 0;
        for (int i : p.members()) {
          Tensor g = Torch.view(grads.get(i));
          long n = g.numel();
          g.copy_(p.flat().narrow(0, offset, n).view(g.sizes()));
          offset += n;
        }
      }
    } finally {
      p.done().handle((ok, error) -> null).join();
      p.flat().releaseReference();
    }
  }

  /**
   * Reduce-scatter (average) of the concatenated gradients: returns this rank's shard on {@code manager}, in
   * the first gradient's dtype. The collectives are cut so that none sends more than a bucket.
   */
  public Shard reduceScatter(List<NDArray> grads, NDManager manager) {
    if (grads.isEmpty()) {
      throw new IllegalArgumentException("no gradients to reduce-scatter");
    }
    int n = group.worldSize();
    Tensor result;
    long total;
    long shardSize;
    try (PointerScope scope = new PointerScope()) {
      TensorVector parts = new TensorVector();
      total = 0;
      for (int i = 0; i < grads.size(); i++) {
        Tensor g = Torch.view(grads.get(i));
        checkPlacement(g, i);
        parts.push_back(g.reshape(-1));
        total += g.numel();
      }
      ScalarType gradType = ScalarTypes.of(Torch.view(grads.get(0)));
      DType wire = wireDtype(grads.get(0), 0);
      shardSize = Math.max(1, (total + n - 1) / n);
      long padded = shardSize * n;
      Tensor flat = torch.cat(parts).to(scalarType(wire));
      if (padded > total) {
        Tensor zeros = flat.new_zeros(new long[] {padded - total});
        flat = torch.cat(new TensorVector(flat, zeros));
      }
      Tensor rows = flat.view(n, shardSize); // (n, shard): row q is rank q's shard
      Tensor shard = flat.new_empty(new long[] {shardSize});
      long step = Math.max(1, config.bucketBytes() / ((long) wire.bytes() * n));
      for (long at = 0; at < shardSize; at += step) {
        long len = Math.min(step, shardSize - at);
        Tensor send = rows.narrow(1, at, len).contiguous(); // (n, len), rank-major
        Tensor recv = shard.narrow(0, at, len);
        group.reduceScatter(send.data_ptr(), recv.data_ptr(), len, wire, ReduceOp.AVG);
      }
      result = ScalarTypes.of(shard) == gradType ? shard : shard.to(gradType);
      result.retainReference(); // outlives the scope; adopt releases it
    }
    long offset = shardSize * group.rank();
    long real = Math.max(0, Math.min(shardSize, total - offset));
    return new Shard(Torch.adopt(result, manager), offset, real, total, shardSize * n);
  }

  /** Consecutive gradients of one dtype, at most bucketBytes each unless a single gradient is larger. */
  List<List<Integer>> plan(List<NDArray> grads) {
    List<List<Integer>> buckets = new ArrayList<>();
    List<Integer> current = new ArrayList<>();
    long bytes = 0;
    DType currentWire = null;
    for (int i = 0; i < grads.size(); i++) {
      Tensor g = Torch.view(grads.get(i));
      checkPlacement(g, i);
      DType wire = wireDtype(grads.get(i), i);
      long size = wire.bytes(g.numel());
      if (!current.isEmpty() && (bytes + size > config.bucketBytes() || wire != currentWire)) {
        buckets.add(current);
        current = new ArrayList<>();
        bytes = 0;
      }
      current.add(i);
      bytes += size;
      currentWire = wire;
    }
    if (!current.isEmpty()) {
      buckets.add(current);
    }
    return buckets;
  }

  private DType wireDtype(NDArray grad, int index) {
    if (config.reduceDtype() != null) {
      return config.reduceDtype();
    }
    DType own = dtypeOf(Torch.view(grad).scalar_type());
    if (own == null || own == DType.INT64) {
      throw new IllegalArgumentException("gradient " + index + " has dtype " + Torch.view(grad).scalar_type()
          + "; gradients must be float32 or bfloat16");
    }
    return own;
  }

  private void checkPlacement(Tensor g, int index) {
    boolean cuda = g.is_cuda();
    if (cuda != (group.memory() == Collective.Memory.CUDA)) {
      throw new IllegalArgumentException("gradient " + index + " lives on " + (cuda ? "CUDA" : "the host") + " but "
          + group + " reduces " + group.memory() + " memory");
    }
  }

  private static DType dtypeOf(ScalarType t) {
    // JavaCPP returns native enums as fresh objects; map them to the constants a switch expects.
    return switch (ScalarTypes.canonical(t)) {
      case Float -> DType.FLOAT32;
      case BFloat16 -> DType.BFLOAT16;
      case Long -> DType.INT64;
      default -> null;
    };
  }

  private static ScalarType scalarType(DType d) {
    return switch (d) {
      case FLOAT32 -> ScalarType.Float;
      case BFLOAT16 -> ScalarType.BFloat16;
      case INT64 -> ScalarType.Long;
    };
  }
}
