package ai.bakery.runtime.collective;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Element-wise reduction kernels on host buffers. Bulk copies into primitive arrays let the JIT vectorise the
 * loops (absolute buffer accessors do not). bf16 is widened to fp32, combined, and rounded back once.
 * One instance per thread: it keeps its scratch arrays.
 */
final class HostReduce {
  private float[] fa = new float[0];
  private float[] fb = new float[0];
  private short[] sa = new short[0];
  private short[] sb = new short[0];
  private long[] la = new long[0];
  private long[] lb = new long[0];

  /** {@code dst = dst (op) src} element-wise; AVG accumulates a sum ({@link #scale} finishes it). */
  void combine(ByteBuffer dst, ByteBuffer src, DType dtype, ReduceOp op) {
    dst.order(ByteOrder.nativeOrder());
    src.order(ByteOrder.nativeOrder());
    int n = dst.remaining() / dtype.bytes();
    if (src.remaining() != dst.remaining()) {
      throw new IllegalArgumentException("reduce of " + dst.remaining() + " and " + src.remaining() + " bytes");
    }
    boolean max = op == ReduceOp.MAX;
    switch (dtype) {
      case FLOAT32 -> {
        ensureFloat(n);
        dst.asFloatBuffer().get(fa, 0, n);
        src.asFloatBuffer().get(fb, 0, n);
        if (max) {
          for (int i = 0; i < n; i++) {
            fa[i] = Math.max(fa[i], fb[i]);
          }
        } else {
          for (int i = 0; i < n; i++) {
            fa[i] += fb[i];
          }
        }
        dst.asFloatBuffer().put(fa, 0, n);
      }
      case BFLOAT16 -> {
        ensureShort(n);
        dst.asShortBuffer().get(sa, 0, n);
        src.asShortBuffer().get(sb, 0, n);
        for (int i = 0; i < n; i++) {
          float a = Bf16.toFloat(sa[i]);
          float b = Bf16.toFloat(sb[i]);
          sa[i] = Bf16.fromFloat(max ? Math.max(a, b) : a + b);
        }
        dst.asShortBuffer().put(sa, 0, n);
      }
      case INT64 -> {
        ensureLong(n);
        dst.asLongBuffer().get(la, 0, n);
        src.asLongBuffer().get(lb, 0, n);
        if (max) {
          for (int i = 0; i < n; i++) {
            la[i] = Math.max(la[i], lb[i]);
          }
        } else {
          for (int i = 0; i < n; i++) {
            la[i] += lb[i];
          }
        }
        dst.asLongBuffer().put(la, 0, n);
      }
    }
  }

  /** {@code dst /= divisor} element-wise: turns a SUM into an AVG (integers truncate toward zero). */
  void scale(ByteBuffer dst, DType dtype, int divisor) {
    dst.order(ByteOrder.nativeOrder());
    int n = dst.remaining() / dtype.bytes();
    switch (dtype) {
      case FLOAT32 -> {
        ensureFloat(n);
        dst.asFloatBuffer().get(fa, 0, n);
        for (int i = 0; i < n; i++) {
          fa[i] /= divisor;
        }
        dst.asFloatBuffer().put(fa, 0, n);
      }
      case BFLOAT16 -> {
        ensureShort(n);
        dst.asShortBuffer().get(sa, 0, n);
        for (int i = 0; i < n; i++) {
          sa[i] = Bf16.fromFloat(Bf16.toFloat(sa[i]) / divisor);
        }
        dst.asShortBuffer().put(sa, 0, n);
      }
      case INT64 -> {
        ensureLong(n);
        dst.asLongBuffer().get(la, 0, n);
        for (int i = 0; i < n; i++) {
          la[i] /= divisor;
        }
        dst.asLongBuffer().put(la, 0, n);
      }
    }
  }

  private void ensureFloat(int n) {
    if (fa.length < n) {
      fa = new float[n];
      fb = new float[n];
    }
  }

  private void ensureShort(int n) {
    if (sa.length < n) {
      sa = new short[n];
      sb = new short[n];
    }
  }

  private void ensureLong(int n) {
    if (la.length < n) {
      la = new long[n];
      lb = new long[n];
    }
  }
}
