package ai.bakery.runtime.parallel;

import ai.bakery.runtime.collective.Collective;
import ai.bakery.runtime.collective.DType;
import ai.bakery.runtime.collective.HostBuffer;
import ai.bakery.runtime.collective.ReduceOp;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Collectives over a few Java numbers (counts, losses, flags, headers), on whichever memory the group reads: a
 * host buffer for the TCP ring, a copy on the current CUDA device for NCCL.
 */
final class SmallVectors {
  private SmallVectors() {}

  static long[] allReduce(Collective group, long[] values, ReduceOp op) {
    try (HostBuffer b = HostBuffer.of(values)) {
      run(group, b, ScalarType.Long, t -> group.allReduce(t, values.length, DType.INT64, op));
      return b.toLongs();
    }
  }

  static float[] allReduce(Collective group, float[] values, ReduceOp op) {
    try (HostBuffer b = HostBuffer.of(values)) {
      run(group, b, ScalarType.Float, t -> group.allReduce(t, values.length, DType.FLOAT32, op));
      return b.toFloats();
    }
  }

  /** Root's {@code values} on every rank; every rank passes an array of the same length. */
  static long[] broadcast(Collective group, long[] values, int root) {
    try (HostBuffer b = HostBuffer.of(values)) {
      run(group, b, ScalarType.Long, t -> group.broadcast(t, values.length, DType.INT64, root));
      return b.toLongs();
    }
  }

  /** Every rank's {@code values} (all of one length), rank after rank. */
  static long[] allGather(Collective group, long[] values) {
    try (HostBuffer send = HostBuffer.of(values);
        HostBuffer recv = HostBuffer.allocate(DType.INT64, (long) values.length * group.worldSize())) {
      if (group.memory() == Collective.Memory.HOST) {
        group.allGather(send.pointer(), recv.pointer(), values.length, DType.INT64);
      } else {
        try (PointerScope scope = new PointerScope()) {
          Tensor s = onDevice(send, values.length, ScalarType.Long);
          Tensor r = onDevice(recv, recv.count(), ScalarType.Long);
          group.allGather(s.data_ptr(), r.data_ptr(), values.length, DType.INT64);
          toHost(r, recv, ScalarType.Long);
        }
      }
      return recv.toLongs();
    }
  }

  private interface Op {
    void apply(org.bytedeco.javacpp.Pointer data);
  }

  private static void run(Collective group, HostBuffer b, ScalarType type, Op op) {
    if (group.memory() == Collective.Memory.HOST) {
      op.apply(b.pointer());
      return;
    }
    try (PointerScope scope = new PointerScope()) {
      Tensor d = onDevice(b, b.count(), type);
      op.apply(d.data_ptr());
      toHost(d, b, type);
    }
  }

  private static Tensor onDevice(HostBuffer b, long count, ScalarType type) {
    return torch.from_blob(b.pointer(), new long[] {count}, new TensorOptions(type)).cuda();
  }

  private static void toHost(Tensor device, HostBuffer b, ScalarType type) {
    torch.from_blob(b.pointer(), new long[] {b.count()}, new TensorOptions(type)).copy_(device.cpu());
  }
}
