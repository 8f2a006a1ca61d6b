package ai.bakery.model.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Element-range reads of one tensor's flattened data: exact values, exactly those bytes read, clear errors. */
class SafetensorsSliceTest {
  @TempDir
  static Path tmp;
  static float[] values = new float[5 * 7];

  @BeforeAll
  static void start() {
    Torch.init();
    for (int i = 0; i < values.length; i++) {
      values[i] = i * 0.5f - 3; // exact in bf16 too
    }
  }

  private static Path write(Dtype dtype) {
    Path f = tmp.resolve("t-" + dtype + ".safetensors");
    try (NDManager m = NDManager.newBaseManager()) {
      new SafetensorsWriter().add("w", m.create(values, new Shape(5, 7)), dtype)
          .add("other", m.zeros(new Shape(100)), Dtype.F32).write(f);
    }
    return f;
  }

  @Test
  void readsExactlyTheRangeOfFloatAndBf16Data() {
    for (Dtype dtype : new Dtype[] {Dtype.F32, Dtype.BF16}) {
      try (SafetensorsReader r = SafetensorsReader.open(write(dtype)); NDManager m = NDManager.newBaseManager()) {
        NDArray dst = m.zeros(new Shape(26), DataType.FLOAT32);
        r.tensor("w").copyElementsInto(3, 29, dst); // starts and ends mid-row
        assertArrayEquals(Arrays.copyOfRange(values, 3, 29), dst.toFloatArray(), dtype.toString());
        assertEquals(26L * dtype.size(), r.bytesRead(), "only the range's bytes");
        NDArray none = m.zeros(new Shape(0), DataType.FLOAT32);
        r.tensor("w").copyElementsInto(35, 35, none);
        assertEquals(26L * dtype.size(), r.bytesRead());
      }
    }
  }

  @Test
  void derivedSourcesReadOnlyTheRowsHoldingTheRange() {
    try (SafetensorsReader r = SafetensorsReader.open(write(Dtype.F32)); NDManager m = NDManager.newBaseManager()) {
      TensorSource doubled = r.tensor("w").transformed("w2", new long[] {5, 7}, rows -> rows.mul(2));
      NDArray dst = m.zeros(new Shape(11), DataType.FLOAT32);
      doubled.copyElementsInto(12, 23, dst); // the end of row 1, row 2, the start of row 3
      float[] expect = new float[11];
      for (int i = 0; i < 11; i++) {
        expect[i] = values[12 + i] * 2;
      }
      assertArrayEquals(expect, dst.toFloatArray());
      assertEquals(3L * 7 * 4, r.bytesRead(), "the three covering rows, not the tensor");
      NDArray same = m.zeros(new Shape(6), DataType.FLOAT32);
      r.tensor("w").renamed("x").copyElementsInto(15, 21, same);
      assertArrayEquals(Arrays.copyOfRange(values, 15, 21), same.toFloatArray());
    }
  }

  @Test
  void badRangesAreNamed() {
    try (SafetensorsReader r = SafetensorsReader.open(write(Dtype.F32)); NDManager m = NDManager.newBaseManager()) {
      SafetensorsException e = assertThrows(SafetensorsException.class,
          () -> r.tensor("w").copyElementsInto(30, 40, m.zeros(new Shape(10))));
      assertTrue(e.getMessage().contains("w") && e.getMessage().contains("[30, 40)"), e.getMessage());
      e = assertThrows(SafetensorsException.class, () -> r.tensor("w").copyElementsInto(0, 4, m.zeros(new Shape(3))));
      assertTrue(e.getMessage().contains("destination"), e.getMessage());
      assertEquals(0, r.bytesRead());
    }
  }
}
