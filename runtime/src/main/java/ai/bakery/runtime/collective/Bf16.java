package ai.bakery.runtime.collective;

/** bfloat16 as raw 16-bit patterns: the top half of an IEEE fp32, rounded to nearest even. */
public final class Bf16 {
  private Bf16() {}

  public static float toFloat(short bits) {
    return Float.intBitsToFloat((bits & 0xFFFF) << 16);
  }

  public static short fromFloat(float value) {
    int bits = Float.floatToRawIntBits(value);
    if ((bits & 0x7F800000) == 0x7F800000 && (bits & 0x007FFFFF) != 0) {
      // Keep NaN a NaN: plain rounding could carry its payload into the exponent and make it infinite.
      return (short) ((bits >>> 16) | 0x0040);
    }
    int roundingBias = 0x7FFF + ((bits >>> 16) & 1);
    return (short) ((bits + roundingBias) >>> 16);
  }
}
