package ai.bakery.model.tensor;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * JavaCPP returns a fresh {@code ScalarType} object from every native call, so {@code ==} against the enum
 * constants is always false (and {@code name()} is null). This maps a tensor's type to the real constant.
 */
public final class ScalarTypes {
  private static final ScalarType[] BY_VALUE = new ScalarType[64];

  static {
    for (ScalarType s : ScalarType.values()) {
      if (s.value >= 0 && s.value < BY_VALUE.length) {
        BY_VALUE[s.value] = s;
      }
    }
  }

  private ScalarTypes() {}

  /** The canonical constant for {@code t}'s element type. */
  public static ScalarType of(Tensor t) {
    return canonical(t.scalar_type());
  }

  public static ScalarType canonical(ScalarType s) {
    ScalarType c = s.value >= 0 && s.value < BY_VALUE.length ? BY_VALUE[s.value] : null;
    if (c == null) {
      throw new IllegalStateException("unknown libtorch scalar type " + s.value);
    }
    return c;
  }
}
