package ai.bakery.runtime.collective;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class Bf16Test {
  @Test
  void roundsToNearestEvenAndKeepsSpecials() {
    assertEquals((short) 0x3F80, Bf16.fromFloat(1.0f));
    assertEquals(1.0f, Bf16.toFloat((short) 0x3F80));
    // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even pattern (1.0).
    assertEquals((short) 0x3F80, Bf16.fromFloat(1.0f + 0x1p-8f));
    // 1 + 3 * 2^-8 lies halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even).
    assertEquals((short) 0x3F82, Bf16.fromFloat(1.0f + 3 * 0x1p-8f));
    assertEquals((short) 0x3F81, Bf16.fromFloat(1.0f + 0x1p-7f));
    // Just above the halfway point rounds up.
    assertEquals((short) 0x3F81, Bf16.fromFloat(1.0f + 0x1p-8f + 0x1p-20f));
    assertEquals((short) 0xC040, Bf16.fromFloat(-3.0f));
    assertEquals(Float.POSITIVE_INFINITY, Bf16.toFloat(Bf16.fromFloat(Float.POSITIVE_INFINITY)));
    assertTrue(Float.isNaN(Bf16.toFloat(Bf16.fromFloat(Float.NaN))));
    assertTrue(Float.isNaN(Bf16.toFloat(Bf16.fromFloat(Float.intBitsToFloat(0x7F800001)))));
    // The largest finite float rounds up to infinity, as IEEE rounding says.
    assertEquals(Float.POSITIVE_INFINITY, Bf16.toFloat(Bf16.fromFloat(Float.MAX_VALUE)));
  }
}
