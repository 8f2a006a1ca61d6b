package ai.bakery.model.tensor;

import ai.djl.ndarray.NDArray;
import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.nio.ByteBuffer;
import java.util.Locale;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The element type gradients travel in during reduction ({@code reduce_dtype}). BF16 halves the bytes on the
 * wire; the fp32 gradients are rounded (to nearest even) when encoded and widened exactly when decoded.
 */
public enum ReduceDtype {
  FP32(ScalarType.Float, 4),
  BF16(ScalarType.BFloat16, 2);

  private final ScalarType scalarType;
  private final int bytes;

  ReduceDtype(ScalarType scalarType, int bytes) {
    this.scalarType = scalarType;
    this.bytes = bytes;
  }

  /** Accepts the names configs use: fp32/float32, bf16/bfloat16 (any case). */
  @JsonCreator
  public static ReduceDtype parse(String name) {
    return switch (name == null ? "" : name.toLowerCase(Locale.ROOT)) {
      case "fp32", "float32", "float" -> FP32;
      case "bf16", "bfloat16" -> BF16;
      default -> throw new IllegalArgumentException("reduce_dtype '" + name + "' (fp32 or bf16)");
    };
  }

  @JsonValue
  public String wireName() {
    return this == FP32 ? "fp32" : "bf16";
  }

  public ScalarType scalarType() {
    return scalarType;
  }

  public int bytesPerElement() {
    return bytes;
  }

  /** Bytes {@code grad} takes on the wire in this dtype. */
  public long wireBytes(NDArray grad) {
    return grad.size() * bytes;
  }

  /**
   * Writes {@code grad} (any float dtype, row-major) into {@code dst} from its position, in this dtype and
   * native byte order, advancing the position. No autograd history is recorded.
   */
  public void encode(NDArray grad, ByteBuffer dst) {
    long n = wireBytes(grad);
    requireDirect(dst, n, "encode");
    try (PointerScope scope = new PointerScope()) {
      Tensor src = Torch.view(grad).detach().contiguous();
      Tensor out = torch.from_blob(new BytePointer(dst), new long[] {grad.size()},
          new TensorOptions(scalarType));
      out.copy_(src.reshape(grad.size()));
    }
    dst.position(dst.position() + (int) n);
  }

  /** Reads {@code dst.size()} elements of this dtype from {@code src} into {@code dst} (cast to its dtype). */
  public void decode(ByteBuffer src, NDArray dst) {
    long n = wireBytes(dst);
    requireDirect(src, n, "decode");
    try (PointerScope scope = new PointerScope()) {
      Tensor in = torch.from_blob(new BytePointer(src), new long[] {dst.size()},
          new TensorOptions(scalarType));
      Tensor target = Torch.view(dst);
      if (!target.is_contiguous()) {
        throw new IllegalArgumentException("decode target must be contiguous, got strides of " + dst.getShape());
      }
      target.detach().view(dst.size()).copy_(in);
    }
    src.position(src.position() + (int) n);
  }

  private static void requireDirect(ByteBuffer b, long n, String op) {
    if (!b.isDirect()) {
      throw new IllegalArgumentException(op + " needs a direct ByteBuffer (native memory)");
    }
    if (b.remaining() < n) {
      throw new IllegalArgumentException(op + " needs " + n + " bytes, buffer has " + b.remaining());
    }
  }
}
