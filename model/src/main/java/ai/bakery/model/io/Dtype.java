package ai.bakery.model.io;

import org.bytedeco.pytorch.global.torch.ScalarType;

/** Element types of the safetensors format, by the names the header uses. */
public enum Dtype {
  F64(8, ScalarType.Double, true),
  F32(4, ScalarType.Float, true),
  F16(2, ScalarType.Half, true),
  BF16(2, ScalarType.BFloat16, true),
  I64(8, ScalarType.Long, false),
  I32(4, ScalarType.Int, false),
  I16(2, ScalarType.Short, false),
  I8(1, ScalarType.Char, false),
  U8(1, ScalarType.Byte, false),
  BOOL(1, ScalarType.Bool, false);

  private final int size;
  private final ScalarType scalarType;
  private final boolean floating;

  Dtype(int size, ScalarType scalarType, boolean floating) {
    this.size = size;
    this.scalarType = scalarType;
    this.floating = floating;
  }

  /** Bytes per element. */
  public int size() {
    return size;
  }

  ScalarType scalarType() {
    return scalarType;
  }

  /** Floating types load as fp32; integer and bool types keep their own type. */
  public boolean floating() {
    return floating;
  }

  /** The dtype named in a header, or null when the format has no such name (or we do not read it). */
  public static Dtype parse(String name) {
    for (Dtype d : values()) {
      if (d.name().equals(name)) {
        return d;
      }
    }
    return null;
  }
}
