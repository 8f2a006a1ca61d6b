package ai.bakery.model.tensor;

import ai.djl.ndarray.NDArray;
import java.util.Locale;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.javacpp.ShortPointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Where a tensor's elements live, for native code (NCCL, a host reduce loop, a socket write): the address of
 * its first element, the byte length, element type, device and, on CUDA, the current stream of that device
 * (work on the memory must be ordered after it). Taken from the array without a copy; valid only while the
 * array is open and unchanged in shape. Writes through the pointers are seen by the array and vice versa.
 *
 * @param address address of element 0 (storage offset applied)
 * @param byteSize numel * element size
 * @param numel element count
 * @param scalarType libtorch element type (DJL cannot name bf16)
 * @param device "cpu" or "cuda"
 * @param deviceIndex CUDA ordinal, -1 on CPU
 * @param stream the device's current {@code cudaStream_t} as an address; 0 on CPU
 */
public record DeviceBuffer(long address, long byteSize, long numel, ScalarType scalarType, String device,
    int deviceIndex, long stream) {

  /** The memory of a contiguous array; a strided view is refused (its elements are not one block). */
  public static DeviceBuffer of(NDArray array) {
    try (PointerScope scope = new PointerScope()) {
      Tensor t = Torch.view(array);
      if (!t.is_contiguous()) {
        throw new IllegalArgumentException("DeviceBuffer needs a contiguous array; " + array.getShape()
            + " is a strided view (copy it first)");
      }
      boolean cuda = t.is_cuda();
      int index = cuda ? t.device().index() : -1;
      long address = t.numel() == 0 ? 0 : t.data_ptr().address();
      return new DeviceBuffer(address, t.nbytes(), t.numel(), ScalarTypes.of(t),
          t.device().type().toString().toLowerCase(Locale.ROOT), index, cuda ? currentCudaStream(index) : 0L);
    }
  }

  public boolean isCuda() {
    return deviceIndex >= 0;
  }

  public int elementSize() {
    return (int) (numel == 0 ? 0 : byteSize / numel);
  }

  /** A non-owning byte view of the memory (capacity = byteSize); CPU memory only. */
  public BytePointer bytes() {
    requireHost();
    return new BytePointer(raw()).capacity(byteSize).limit(byteSize);
  }

  /** A non-owning fp32 view; the buffer must hold fp32. */
  public FloatPointer floats() {
    requireHost();
    requireType(ScalarType.Float);
    return new FloatPointer(raw()).capacity(numel).limit(numel);
  }

  /** A non-owning view of 16-bit patterns (bf16 or fp16). */
  public ShortPointer shorts() {
    requireHost();
    if (scalarType != ScalarType.BFloat16 && scalarType != ScalarType.Half) {
      throw new IllegalStateException("buffer holds " + scalarType + ", not a 16-bit float");
    }
    return new ShortPointer(raw()).capacity(numel).limit(numel);
  }

  /** The address as a plain Pointer (any device), for APIs that take {@code void*}. */
  public Pointer pointer() {
    return raw();
  }

  private Pointer raw() {
    long a = address;
    return new Pointer() {
      {
        address = a;
      }
    };
  }

  private void requireHost() {
    if (isCuda()) {
      throw new IllegalStateException("device memory on " + device + ":" + deviceIndex + " is not host-addressable");
    }
  }

  private void requireType(ScalarType t) {
    if (scalarType != t) {
      throw new IllegalStateException("buffer holds " + scalarType + ", not " + t);
    }
  }

  /**
   * The CUDA stream through JavaCPP's CUDA presets, looked up reflectively so this module needs neither the
   * CUDA artifacts nor a GPU unless a CUDA tensor actually shows up.
   */
  private static long currentCudaStream(int index) {
    try {
      Class<?> cuda = Class.forName("org.bytedeco.pytorch.global.torch_cuda");
      Object s = cuda.getMethod("getCurrentCUDAStream", byte.class).invoke(null, (byte) index);
      Object handle = s.getClass().getMethod("stream").invoke(s);
      return ((Pointer) handle).address();
    } catch (ReflectiveOperationException | LinkageError e) {
      throw new IllegalStateException("CUDA tensor but JavaCPP's CUDA presets are unavailable", e);
    }
  }
}
