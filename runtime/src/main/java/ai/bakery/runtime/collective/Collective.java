package ai.bakery.runtime.collective;

import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.bytedeco.javacpp.Pointer;

/**
 * A process group for one membership generation: gradient collectives among {@link #worldSize()} ranks.
 *
 * <p>Buffers are raw memory given as JavaCPP pointers; the data starts at {@link #address(Pointer)}
 * ({@code address() + position() * sizeof()}). They must live where the backend reads them: host memory for
 * {@link TcpRingCollective}, CUDA device memory for {@link NcclCollective} ({@link #memory()} says which).
 * Every rank must issue the same operations in the same order with the same counts; the async variants
 * are executed in submission order and their buffers must stay untouched until the future completes.
 *
 * <p>Failures surface as {@link CollectiveException}: a dead peer or a hang within the group's timeout,
 * {@link #close()} from another thread, peers from another {@link #generation()}. After a failure the group
 * is broken for good; build a new one (the elastic layer does so per generation).
 */
public interface Collective extends AutoCloseable {
  /** Where a backend's buffers live. */
  enum Memory {
    HOST,
    CUDA
  }

  int rank();

  int worldSize();

  /** The membership generation this group was built for; peers of another generation are rejected. */
  long generation();

  Memory memory();

  /** In place: every rank's {@code buffer} ends up holding the reduction over all ranks. */
  CompletableFuture<Void> allReduceAsync(Pointer buffer, long count, DType dtype, ReduceOp op);

  /**
   * {@code send} holds {@code worldSize * recvCount} elements; rank {@code r} receives block {@code r} of the
   * reduction in {@code recv} ({@code recvCount} elements). {@code send} is left unchanged.
   */
  CompletableFuture<Void> reduceScatterAsync(Pointer send, Pointer recv, long recvCount, DType dtype, ReduceOp op);

  /** {@code recv} ({@code worldSize * sendCount} elements) receives every rank's {@code send} in rank order. */
  CompletableFuture<Void> allGatherAsync(Pointer send, Pointer recv, long sendCount, DType dtype);

  /** {@code buffer} of rank {@code root} is copied into {@code buffer} of every other rank. */
  CompletableFuture<Void> broadcastAsync(Pointer buffer, long count, DType dtype, int root);

  /** Completes once every rank has entered the barrier. */
  CompletableFuture<Void> barrierAsync();

  /** Fails pending operations with {@link CollectiveException.Reason#CLOSED} and releases the links. */
  @Override
  void close();

  default void allReduce(Pointer buffer, long count, DType dtype, ReduceOp op) {
    await(allReduceAsync(buffer, count, dtype, op));
  }

  default void reduceScatter(Pointer send, Pointer recv, long recvCount, DType dtype, ReduceOp op) {
    await(reduceScatterAsync(send, recv, recvCount, dtype, op));
  }

  default void allGather(Pointer send, Pointer recv, long sendCount, DType dtype) {
    await(allGatherAsync(send, recv, sendCount, dtype));
  }

  default void broadcast(Pointer buffer, long count, DType dtype, int root) {
    await(broadcastAsync(buffer, count, dtype, root));
  }

  default void barrier() {
    await(barrierAsync());
  }

  /** Waits for {@code future}, rethrowing its {@link CollectiveException} (or runtime failure) unwrapped. */
  static void await(CompletableFuture<Void> future) {
    try {
      future.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CollectiveException(CollectiveException.Reason.CLOSED, "interrupted while waiting", e);
    } catch (ExecutionException | CompletionException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      if (cause instanceof RuntimeException re) {
        throw re;
      }
      if (cause instanceof Error err) {
        throw err;
      }
      throw new CollectiveException(CollectiveException.Reason.PROTOCOL, cause.toString(), cause);
    } catch (CancellationException e) {
      throw new CollectiveException(CollectiveException.Reason.CLOSED, "operation cancelled", e);
    }
  }

  /** The first byte a JavaCPP pointer designates. */
  static long address(Pointer p) {
    return p.address() + p.position() * p.sizeof();
  }
}
