package ai.bakery.runtime.collective;

/** Element types the collectives move. bf16 travels as raw 16-bit values and is reduced in fp32. */
public enum DType {
  FLOAT32(4),
  BFLOAT16(2),
  INT64(8);

  private final int bytes;

  DType(int bytes) {
    this.bytes = bytes;
  }

  /** Bytes per element. */
  public int bytes() {
    return bytes;
  }

  /** Bytes of {@code count} elements, checked against overflow. */
  public long bytes(long count) {
    if (count < 0) {
      throw new IllegalArgumentException("negative element count " + count);
    }
    return Math.multiplyExact(count, (long) bytes);
  }
}
