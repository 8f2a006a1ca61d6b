package ai.bakery.model.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.ShortPointer;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class DeviceBufferTest {
  @BeforeAll
  static void start() {
    Torch.init();
  }

  @Test
  void writesThroughThePointerShowInTheArrayAndBack() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray a = m.zeros(new Shape(2, 3));
      DeviceBuffer buf = DeviceBuffer.of(a);
      assertEquals(24, buf.byteSize());
      assertEquals(6, buf.numel());
      assertEquals(4, buf.elementSize());
      assertEquals(ScalarType.Float, buf.scalarType());
      assertEquals("cpu", buf.device());
      assertEquals(0L, buf.stream());
      FloatPointer f = buf.floats();
      f.put(4, 7.5f);
      assertArrayEquals(new float[] {0, 0, 0, 0, 7.5f, 0}, a.toFloatArray());
      a.muli(0).addi(m.create(new float[] {1, 2, 3, 4, 5, 6}, new Shape(2, 3))); // in place, same storage
      float[] seen = new float[6];
      f.get(seen);
      assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, seen);
      assertEquals(0x40, buf.bytes().get(15)); // 4.0f = 0x40800000, little-endian: its top byte is last
    }
  }

  @Test
  void offsetViewsPointAtTheirFirstElement() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray a = m.arange(0f, 12f).reshape(3, 4);
      NDArray row = a.get("1:"); // contiguous rows 1..2, storage offset 4
      DeviceBuffer buf = DeviceBuffer.of(row);
      assertEquals(DeviceBuffer.of(a).address() + 16, buf.address());
      assertEquals(4f, buf.floats().get(0));
      NDArray column = a.get(":, 1");
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DeviceBuffer.of(column));
      assertEquals(true, e.getMessage().contains("contiguous"));
    }
  }

  @Test
  void bf16ArraysExposeTheirPatterns() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray b = BF16Precision.INSTANCE.activation(m.create(new float[] {1f, -2f}));
      DeviceBuffer buf = DeviceBuffer.of(b);
      assertEquals(ScalarType.BFloat16, buf.scalarType());
      ShortPointer s = buf.shorts();
      assertEquals((short) 0x3F80, s.get(0));
      s.put(1, (short) 0x4040); // 3.0
      assertArrayEquals(new float[] {1f, 3f}, BF16Precision.INSTANCE.full(b).toFloatArray());
      assertThrows(IllegalStateException.class, buf::floats);
    }
  }
}
