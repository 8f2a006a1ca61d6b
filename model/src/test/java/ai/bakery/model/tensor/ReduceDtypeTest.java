package ai.bakery.model.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class ReduceDtypeTest {
  @BeforeAll
  static void start() {
    Torch.init();
  }

  @Test
  void bf16EncodesRoundedHighHalvesAndDecodesExactly() {
    try (NDManager m = NDManager.newBaseManager()) {
      // 1.0 -> 0x3F80; 1+2^-8 ties to even -> 0x3F80; 1+3*2^-8 ties to even (up) -> 0x3F82; -2 -> 0xC000.
      NDArray g = m.create(new float[] {1f, 1.00390625f, 1.01171875f, -2f}, new Shape(2, 2));
      ByteBuffer wire = ByteBuffer.allocateDirect(4 + 8).order(ByteOrder.nativeOrder());
      wire.position(4); // encoding starts at the buffer's position
      ReduceDtype.BF16.encode(g, wire);
      assertEquals(12, wire.position());
      wire.position(4);
      short[] bits = new short[4];
      wire.asShortBuffer().get(bits);
      assertArrayEquals(new short[] {0x3F80, 0x3F80, 0x3F82, (short) 0xC000}, bits);
      NDArray back = m.zeros(new Shape(2, 2));
      ReduceDtype.BF16.decode(wire, back);
      assertArrayEquals(new float[] {1f, 1f, 1.015625f, -2f}, back.toFloatArray());
    }
  }

  @Test
  void fp32RoundTripIsExact() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray g = m.randomNormal(new Shape(3, 5));
      ByteBuffer wire = ByteBuffer.allocateDirect((int) ReduceDtype.FP32.wireBytes(g));
      ReduceDtype.FP32.encode(g, wire);
      wire.flip();
      NDArray back = m.zeros(new Shape(3, 5));
      ReduceDtype.FP32.decode(wire, back);
      assertArrayEquals(g.toFloatArray(), back.toFloatArray());
    }
  }

  @Test
  void parsesConfigNamesAndRejectsOthers() {
    assertEquals(ReduceDtype.BF16, ReduceDtype.parse("bfloat16"));
    assertEquals(ReduceDtype.FP32, ReduceDtype.parse("FP32"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ReduceDtype.parse("fp8"));
    assertEquals("reduce_dtype 'fp8' (fp32 or bf16)", e.getMessage());
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray g = m.zeros(new Shape(4));
      assertThrows(IllegalArgumentException.class, () -> ReduceDtype.BF16.encode(g, ByteBuffer.allocateDirect(6)));
      assertThrows(IllegalArgumentException.class, () -> ReduceDtype.BF16.encode(g, ByteBuffer.allocate(8)));
    }
  }
}
