package ai.bakery.runtime.collective;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;

/**
 * Native host memory holding {@code count} elements of one {@link DType}, for host-side collectives and
 * their tests. Owned: {@link #close()} frees it. {@link #view} exposes any host address as a buffer.
 */
public final class HostBuffer implements AutoCloseable {
  private final DType dtype;
  private final long count;
  private final BytePointer memory;

  private HostBuffer(DType dtype, long count) {
    this.dtype = dtype;
    this.count = count;
    // One spare byte keeps zero-element buffers at a real, non-null address.
    this.memory = new BytePointer(Math.max(1, dtype.bytes(count)));
    if (memory.isNull()) {
      throw new OutOfMemoryError("cannot allocate " + dtype.bytes(count) + " bytes of host memory");
    }
  }

  /** Zero-filled. */
  public static HostBuffer allocate(DType dtype, long count) {
    HostBuffer b = new HostBuffer(dtype, count);
    Pointer.memset(b.memory, 0, Math.max(1, dtype.bytes(count)));
    return b;
  }

  public static HostBuffer of(float[] values) {
    HostBuffer b = new HostBuffer(DType.FLOAT32, values.length);
    b.memory.asByteBuffer().order(ByteOrder.nativeOrder()).asFloatBuffer().put(values);
    return b;
  }

  /** bf16 values given as their raw 16-bit patterns (see {@link Bf16}). */
  public static HostBuffer ofBf16(short[] bits) {
    HostBuffer b = new HostBuffer(DType.BFLOAT16, bits.length);
    b.memory.asByteBuffer().order(ByteOrder.nativeOrder()).asShortBuffer().put(bits);
    return b;
  }

  public static HostBuffer of(long[] values) {
    HostBuffer b = new HostBuffer(DType.INT64, values.length);
    b.memory.asByteBuffer().order(ByteOrder.nativeOrder()).asLongBuffer().put(values);
    return b;
  }

  public DType dtype() {
    return dtype;
  }

  public long count() {
    return count;
  }

  public long address() {
    return memory.address();
  }

  /** The first element, for passing to a {@link Collective}. */
  public Pointer pointer() {
    return memory;
  }

  /** The first element plus {@code elements}. */
  public Pointer pointer(long elements) {
    if (elements < 0 || elements > count) {
      throw new IndexOutOfBoundsException("element offset " + elements + " outside [0, " + count + "]");
    }
    final long at = memory.address() + dtype.bytes(elements);
    return new Pointer() {
      {
        address = at;
      }
    };
  }

  public float[] toFloats() {
    require(DType.FLOAT32);
    float[] out = new float[Math.toIntExact(count)];
    view(address(), dtype.bytes(count)).asFloatBuffer().get(out);
    return out;
  }

  public short[] toBf16() {
    require(DType.BFLOAT16);
    short[] out = new short[Math.toIntExact(count)];
    view(address(), dtype.bytes(count)).asShortBuffer().get(out);
    return out;
  }

  public long[] toLongs() {
    require(DType.INT64);
    long[] out = new long[Math.toIntExact(count)];
    view(address(), dtype.bytes(count)).asLongBuffer().get(out);
    return out;
  }

  @Override
  public void close() {
    memory.close();
  }

  private void require(DType expected) {
    if (dtype != expected) {
      throw new IllegalStateException("buffer holds " + dtype + ", not " + expected);
    }
  }

  /** A native-order byte buffer over {@code bytes} bytes of host memory at {@code address}; not owned. */
  public static ByteBuffer view(long address, long bytes) {
    if (bytes > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("a view spans at most 2 GiB, asked for " + bytes + " bytes");
    }
    if (bytes == 0) {
      return ByteBuffer.allocateDirect(0).order(ByteOrder.nativeOrder());
    }
    if (address == 0) {
      throw new IllegalArgumentException("null host address");
    }
    final long at = address;
    final long length = bytes;
    // The anonymous subclass may set the protected fields; the names differ so the fields don't shadow them.
    BytePointer p = new BytePointer() {
      {
        this.address = at;
        this.capacity = length;
        this.limit = length;
      }
    };
    return p.asByteBuffer().order(ByteOrder.nativeOrder());
  }
}
