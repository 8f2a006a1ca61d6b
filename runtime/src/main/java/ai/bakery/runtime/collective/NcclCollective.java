package ai.bakery.runtime.collective;

import static org.bytedeco.cuda.global.cudart.cudaErrorNotReady;
import static org.bytedeco.cuda.global.cudart.cudaEventCreateWithFlags;
import static org.bytedeco.cuda.global.cudart.cudaEventDestroy;
import static org.bytedeco.cuda.global.cudart.cudaEventDisableTiming;
import static org.bytedeco.cuda.global.cudart.cudaEventQuery;
import static org.bytedeco.cuda.global.cudart.cudaEventRecord;
import static org.bytedeco.cuda.global.cudart.cudaFree;
import static org.bytedeco.cuda.global.cudart.cudaGetErrorString;
import static org.bytedeco.cuda.global.cudart.cudaMalloc;
import static org.bytedeco.cuda.global.cudart.cudaSetDevice;
import static org.bytedeco.cuda.global.cudart.cudaStreamCreateWithFlags;
import static org.bytedeco.cuda.global.cudart.cudaStreamDestroy;
import static org.bytedeco.cuda.global.cudart.cudaStreamNonBlocking;
import static org.bytedeco.cuda.global.cudart.cudaSuccess;

import ai.bakery.runtime.collective.CollectiveException.Reason;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntSupplier;
import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.nccl;
import org.bytedeco.cuda.nccl.ncclComm;
import org.bytedeco.cuda.nccl.ncclUniqueId;
import org.bytedeco.javacpp.Pointer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The GPU backend: NCCL collectives on CUDA device memory, one rank per GPU. Operations are enqueued on the
 * group's CUDA stream in call order and return at once; a watchdog thread completes each future when its
 * event fires, and aborts the communicator when an operation makes no progress within the timeout or NCCL
 * reports an asynchronous error (a peer died), so a dead peer surfaces as an exception, not a hang.
 *
 * <p>Needs the CUDA/NCCL natives (Maven profile {@code gpu}); without them {@link #create} fails with a
 * {@link LinkageError}. The ncclUniqueId is made by rank 0 and handed out through the {@link Rendezvous}
 * together with the generation ({@link NcclIdExchange}).
 */
public final class NcclCollective implements Collective {
  private static final Logger log = LoggerFactory.getLogger(NcclCollective.class);

  /** @param timeout longest time one operation may take on the GPU before the group is aborted */
  public record Options(Duration timeout, Duration connectTimeout) {
    public Options {
      if (timeout == null || timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("timeout must be positive, got " + timeout);
      }
      if (connectTimeout == null || connectTimeout.isNegative() || connectTimeout.isZero()) {
        throw new IllegalArgumentException("connectTimeout must be positive, got " + connectTimeout);
      }
    }

    public static Options defaults() {
      return new Options(Duration.ofMinutes(10), Duration.ofMinutes(5));
    }
  }

  private record InFlight(CUevent_st event, CompletableFuture<Void> done, String what) {}

  private final String group;
  private final long generation;
  private final int rank;
  private final int worldSize;
  private final int device;
  private final Options options;
  private final ncclComm comm;
  private final CUstream_st stream;
  private final boolean ownsStream;
  private final Pointer barrierScratch;
  private final BlockingQueue<InFlight> inFlight = new LinkedBlockingQueue<>();
  private final Thread watchdog;
  private volatile InFlight watched;
  private volatile CollectiveException failure;
  private volatile boolean closed;
  private boolean aborted;
  private int groupDepth;
  private final List<CompletableFuture<Void>> deferred = new ArrayList<>();

  private NcclCollective(String group, long generation, int rank, int worldSize, int device, Options options,
      ncclComm comm, CUstream_st stream, boolean ownsStream, Pointer barrierScratch) {
    this.group = group;
    this.generation = generation;
    this.rank = rank;
    this.worldSize = worldSize;
    this.device = device;
    this.options = options;
    this.comm = comm;
    this.stream = stream;
    this.ownsStream = ownsStream;
    this.barrierScratch = barrierScratch;
    this.watchdog = new Thread(this::watch, "bakery-nccl-" + group + "-g" + generation + "-r" + rank + "-watchdog");
    watchdog.setDaemon(true);
    watchdog.start();
  }

  /**
   * Joins {@code group} of {@code generation} as {@code rank} of {@code worldSize} on CUDA device
   * {@code device}. Operations run on {@code stream}, or on a stream of the group's own when it is null.
   */
  public static NcclCollective create(String group, long generation, int rank, int worldSize, int device,
      CUstream_st stream, Rendezvous rendezvous, Options options) {
    if (worldSize < 1 || rank < 0 || rank >= worldSize) {
      throw new IllegalArgumentException("rank " + rank + " outside [0, " + worldSize + ")");
    }
    checkCuda(cudaSetDevice(device), "cudaSetDevice(" + device + ")");
    byte[] id = null;
    if (rank == 0) {
      try (ncclUniqueId fresh = new ncclUniqueId()) {
        checkNccl(nccl.ncclGetUniqueId(fresh), "ncclGetUniqueId");
        id = new byte[NcclIdExchange.ID_BYTES];
        fresh.internal().get(id);
      }
    }
    byte[] shared = NcclIdExchange.exchange(rendezvous, Rendezvous.key(group, generation), generation, rank, worldSize,
        id, options.connectTimeout());
    ncclComm comm = new ncclComm();
    try (ncclUniqueId uid = new ncclUniqueId()) {
      uid.internal().put(shared);
      checkNccl(nccl.ncclCommInitRank(comm, worldSize, uid, rank), "ncclCommInitRank");
    }
    boolean ownsStream = stream == null;
    CUstream_st s = stream;
    if (ownsStream) {
      s = new CUstream_st();
      checkCuda(cudaStreamCreateWithFlags(s, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    }
    Pointer scratch = new Pointer();
    checkCuda(cudaMalloc(scratch, Long.BYTES), "cudaMalloc(barrier scratch)");
    log.info("NCCL group '{}' generation {}: rank {}/{} on cuda:{}", group, generation, rank, worldSize, device);
    return new NcclCollective(group, generation, rank, worldSize, device, options, comm, s, ownsStream, scratch);
  }

  /**
   * As {@link #create(String, long, int, int, int, CUstream_st, Rendezvous, Options)} on the stream at
   * {@code streamAddress} (a {@code cudaStream_t}, e.g. {@code DeviceBuffer.stream()} of a gradient, so the
   * collectives are ordered after the kernels that produced it); 0 gives the group a stream of its own.
   */
  public static NcclCollective create(String group, long generation, int rank, int worldSize, int device,
      long streamAddress, Rendezvous rendezvous, Options options) {
    CUstream_st stream = streamAddress == 0 ? null : new CUstream_st(new Pointer() {
      {
        address = streamAddress;
      }
    });
    return create(group, generation, rank, worldSize, device, stream, rendezvous, options);
  }

  /** Builds NCCL groups on one device per process, meeting through {@code rendezvous}. */
  public static CollectiveFactory factory(int device, Rendezvous rendezvous, Options options) {
    return (group, generation, rank, worldSize) -> create(group, generation, rank, worldSize, device, null, rendezvous,
        options);
  }

  @Override
  public int rank() {
    return rank;
  }

  @Override
  public int worldSize() {
    return worldSize;
  }

  @Override
  public long generation() {
    return generation;
  }

  @Override
  public Memory memory() {
    return Memory.CUDA;
  }

  /** The stream the operations are enqueued on. */
  public CUstream_st stream() {
    return stream;
  }

  @Override
  public CompletableFuture<Void> allReduceAsync(Pointer buffer, long count, DType dtype, ReduceOp op) {
    Pointer p = at(buffer, "allReduce buffer");
    return enqueue("allReduce of " + count + " " + dtype,
        () -> nccl.ncclAllReduce(p, p, count, ncclType(dtype), ncclOp(op), comm, stream));
  }

  @Override
  public CompletableFuture<Void> reduceScatterAsync(Pointer send, Pointer recv, long recvCount, DType dtype, ReduceOp op) {
    Pointer from = at(send, "reduceScatter send");
    Pointer to = at(recv, "reduceScatter recv");
    return enqueue("reduceScatter of " + recvCount + " " + dtype + " per rank",
        () -> nccl.ncclReduceScatter(from, to, recvCount, ncclType(dtype), ncclOp(op), comm, stream));
  }

  @Override
  public CompletableFuture<Void> allGatherAsync(Pointer send, Pointer recv, long sendCount, DType dtype) {
    Pointer from = at(send, "allGather send");
    Pointer to = at(recv, "allGather recv");
    return enqueue("allGather of " + sendCount + " " + dtype + " per rank",
        () -> nccl.ncclAllGather(from, to, sendCount, ncclType(dtype), comm, stream));
  }

  @Override
  public CompletableFuture<Void> broadcastAsync(Pointer buffer, long count, DType dtype, int root) {
    if (root < 0 || root >= worldSize) {
      throw new IllegalArgumentException("broadcast root " + root + " outside [0, " + worldSize + ")");
    }
    Pointer p = at(buffer, "broadcast buffer");
    return enqueue("broadcast of " + count + " " + dtype + " from rank " + root,
        () -> nccl.ncclBroadcast(p, p, count, ncclType(dtype), root, comm, stream));
  }

  @Override
  public CompletableFuture<Void> barrierAsync() {
    return enqueue("barrier",
        () -> nccl.ncclAllReduce(barrierScratch, barrierScratch, 1, nccl.ncclInt64, nccl.ncclSum, comm, stream));
  }

  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    fail(new CollectiveException(Reason.CLOSED, this + " was closed"));
    try {
      watchdog.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    synchronized (this) {
      cudaSetDevice(device);
      if (!aborted) {
        nccl.ncclCommDestroy(comm);
      }
      cudaFree(barrierScratch);
      if (ownsStream) {
        cudaStreamDestroy(stream);
      }
    }
  }

  @Override
  public String toString() {
    return "NcclCollective[" + group + ", generation " + generation + ", rank " + rank + "/" + worldSize + ", cuda:"
        + device + "]";
  }

  /**
   * Runs the collectives {@code body} issues on this group as one NCCL group call (ncclGroupStart/End), so
   * NCCL launches them together, e.g. all buckets of a step. Their futures complete when the whole group has.
   * Use the async variants inside {@code body}: a blocking call there would wait for a launch that only
   * happens after {@code body} returns. Other threads' calls wait until the group is launched.
   */
  public void grouped(Runnable body) {
    synchronized (this) {
      failIfUnusable();
      checkCuda(cudaSetDevice(device), "cudaSetDevice(" + device + ")");
      checkNccl(nccl.ncclGroupStart(), "ncclGroupStart");
      groupDepth++;
      try {
        body.run();
      } finally {
        groupDepth--;
        int rc = nccl.ncclGroupEnd();
        if (rc != nccl.ncclSuccess) {
          CollectiveException e = new CollectiveException(Reason.BACKEND, "ncclGroupEnd: " + ncclError(rc));
          fail(e);
          deferred.forEach(f -> f.completeExceptionally(e));
          deferred.clear();
          throw e;
        }
        if (groupDepth == 0 && !deferred.isEmpty()) {
          // Launched only now: one event after the group stands for all of its operations.
          List<CompletableFuture<Void>> members = List.copyOf(deferred);
          deferred.clear();
          CompletableFuture<Void> all = new CompletableFuture<>();
          all.whenComplete((ok, error) -> members.forEach(f -> {
            if (error != null) {
              f.completeExceptionally(error);
            } else {
              f.complete(null);
            }
          }));
          track(all, "group of " + members.size() + " collectives");
        }
      }
    }
  }

  private CompletableFuture<Void> enqueue(String what, IntSupplier call) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    synchronized (this) {
      failIfUnusable();
      checkCuda(cudaSetDevice(device), "cudaSetDevice(" + device + ")");
      int rc = call.getAsInt();
      if (rc != nccl.ncclSuccess) {
        CollectiveException e = new CollectiveException(Reason.BACKEND, what + ": " + ncclError(rc));
        fail(e);
        throw e;
      }
      if (groupDepth > 0) {
        deferred.add(done); // inside ncclGroupStart/End nothing is launched yet
      } else {
        track(done, what);
      }
    }
    return done;
  }

  /** Records an event after the work enqueued so far; the watchdog completes {@code done} when it fires. */
  private void track(CompletableFuture<Void> done, String what) {
    CUevent_st event = new CUevent_st();
    checkCuda(cudaEventCreateWithFlags(event, cudaEventDisableTiming), "cudaEventCreateWithFlags");
    checkCuda(cudaEventRecord(event, stream), "cudaEventRecord");
    inFlight.add(new InFlight(event, done, what));
  }

  private void failIfUnusable() {
    if (closed) {
      throw new CollectiveException(Reason.CLOSED, this + " is closed");
    }
    if (failure != null) {
      throw new CollectiveException(failure);
    }
  }

  /** Completes operations in order as their events fire; the timeout runs from when the previous one finished. */
  private void watch() {
    cudaSetDevice(device);
    int[] asyncError = new int[1];
    while (true) {
      InFlight op;
      try {
        op = inFlight.poll(20, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        return;
      }
      if (op == null) {
        if (failure != null) {
          return;
        }
        continue;
      }
      watched = op;
      long deadline = System.nanoTime() + options.timeout().toNanos();
      while (true) {
        if (failure != null) {
          op.done().completeExceptionally(new CollectiveException(failure));
          break;
        }
        int q = cudaEventQuery(op.event());
        if (q == cudaSuccess) {
          op.done().complete(null);
          break;
        }
        if (q != cudaErrorNotReady) {
          fail(new CollectiveException(Reason.BACKEND, op.what() + ": " + cudaGetErrorString(q).getString()));
          continue;
        }
        int rc = nccl.ncclCommGetAsyncError(comm, asyncError);
        if (rc == nccl.ncclSuccess && asyncError[0] != nccl.ncclSuccess && asyncError[0] != nccl.ncclInProgress) {
          fail(new CollectiveException(Reason.PEER_LOST, op.what() + ": NCCL reported " + ncclError(asyncError[0])));
          continue;
        }
        if (System.nanoTime() > deadline) {
          fail(new CollectiveException(Reason.TIMEOUT, op.what() + " made no progress within " + options.timeout()));
          continue;
        }
        LockSupport.parkNanos(50_000);
      }
      synchronized (this) {
        cudaEventDestroy(op.event());
        watched = null;
      }
    }
  }

  /** Records the first failure, aborts the communicator (which frees the stream of stuck kernels) and fails pending work. */
  private void fail(CollectiveException cause) {
    synchronized (this) {
      if (failure != null) {
        return;
      }
      failure = cause;
      // A clean close with nothing pending may destroy the communicator; anything else must abort it,
      // since ncclCommDestroy would wait for kernels that a dead peer never lets finish.
      if (cause.reason() != Reason.CLOSED || !inFlight.isEmpty() || watched != null) {
        if (cause.reason() != Reason.CLOSED) {
          log.warn("{}: {}", this, cause.getMessage());
        }
        nccl.ncclCommAbort(comm);
        aborted = true;
      }
    }
    for (InFlight op; (op = inFlight.poll()) != null; ) {
      op.done().completeExceptionally(cause);
      cudaEventDestroy(op.event());
    }
  }

  private static Pointer at(Pointer p, String what) {
    if (p == null || p.isNull()) {
      throw new IllegalArgumentException(what + " is a null pointer");
    }
    final long target = Collective.address(p);
    return new Pointer() {
      {
        address = target;
      }
    };
  }

  static int ncclType(DType dtype) {
    return switch (dtype) {
      case FLOAT32 -> nccl.ncclFloat32;
      case BFLOAT16 -> nccl.ncclBfloat16;
      case INT64 -> nccl.ncclInt64;
    };
  }

  static int ncclOp(ReduceOp op) {
    return switch (op) {
      case SUM -> nccl.ncclSum;
      case AVG -> nccl.ncclAvg;
      case MAX -> nccl.ncclMax;
    };
  }

  private static String ncclError(int rc) {
    return "NCCL error " + rc + " (" + nccl.ncclGetErrorString(rc).getString() + ")";
  }

  private static void checkNccl(int rc, String what) {
    if (rc != nccl.ncclSuccess) {
      throw new CollectiveException(Reason.BACKEND, what + ": " + ncclError(rc));
    }
  }

  private static void checkCuda(int rc, String what) {
    if (rc != cudaSuccess) {
      throw new CollectiveException(Reason.BACKEND, what + ": CUDA error " + rc + " (" + cudaGetErrorString(rc).getString() + ")");
    }
  }
}
