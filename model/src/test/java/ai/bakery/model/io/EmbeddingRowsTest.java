package ai.bakery.model.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Token tables seen with more or fewer rows, as resize_token_embeddings leaves them. */
class EmbeddingRowsTest {
  private static final int ROWS = 10_000; // more than one averaging window
  private static final int HIDDEN = 3;

  @TempDir
  Path dir;

  @BeforeAll
  static void start() {
    Torch.init();
  }

  @Test
  void addedRowsAreTheMeanOfTheFileRowsAndKeptRowsAreTheFiles() {
    Path f = dir.resolve("embed.safetensors");
    float[] data = new float[ROWS * HIDDEN];
    for (int i = 0; i < data.length; i++) {
      data[i] = (float) Math.sin(i * 0.37) * (1 + i % 7);
    }
    double[] mean = new double[HIDDEN];
    for (int r = 0; r < ROWS; r++) {
      for (int c = 0; c < HIDDEN; c++) {
        mean[c] += data[r * HIDDEN + c] / (double) ROWS;
      }
    }
    try (NDManager m = NDManager.newBaseManager()) {
      new SafetensorsWriter().add("w", m.create(data, new Shape(ROWS, HIDDEN)), Dtype.F32).write(f);
      try (SafetensorsReader reader = SafetensorsReader.open(f)) {
        TensorSource file = reader.tensors().get("w");
        assertSame(file, EmbeddingRows.resized(file, ROWS));

        TensorSource grown = EmbeddingRows.resized(file, ROWS + 3);
        assertArrayEquals(new long[] {ROWS + 3, HIDDEN}, grown.shape());
        float[] all = grown.load(m).toFloatArray();
        assertArrayEquals(data, Arrays.copyOf(all, data.length));
        for (int r = ROWS; r < ROWS + 3; r++) {
          for (int c = 0; c < HIDDEN; c++) {
            assertEquals(mean[c], all[r * HIDDEN + c], 1e-6, "row " + r + " col " + c);
          }
        }
        // a window across the boundary, and a flat element range as a sharded rank reads it
        assertArrayEquals(Arrays.copyOfRange(all, (ROWS - 2) * HIDDEN, (ROWS + 2) * HIDDEN),
            grown.loadRows(ROWS - 2, ROWS + 2, m).toFloatArray());
        var slice = m.zeros(new Shape(7));
        grown.copyElementsInto(ROWS * HIDDEN - 4, ROWS * HIDDEN + 3, slice);
        assertArrayEquals(Arrays.copyOfRange(all, ROWS * HIDDEN - 4, ROWS * HIDDEN + 3), slice.toFloatArray());

        TensorSource shrunk = EmbeddingRows.resized(file, 5);
        assertArrayEquals(Arrays.copyOf(data, 5 * HIDDEN), shrunk.load(m).toFloatArray());
        assertThrows(SafetensorsException.class, () -> grown.loadRows(0, ROWS + 4, m));
      }
    }
  }
}
