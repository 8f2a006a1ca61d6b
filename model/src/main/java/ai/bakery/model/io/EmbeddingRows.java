package ai.bakery.model.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;

/**
 * A token-indexed weight (embedding or LM head, one row per token) seen with another number of rows, as the
 * reference's {@code resize_token_embeddings(len(tokenizer))} leaves it after adding special tokens: the rows
 * both sizes share are the file's, every added row is the mean of the file's rows. HF draws added rows from a
 * normal of that mean and 1e-9 times the rows' covariance (a spread about 3e-5 of the rows' own); the mean
 * alone is that draw without its noise, and the same on every rank. Fewer rows keep the first ones.
 */
public final class EmbeddingRows {
  /** Rows read at a time while averaging, so a 150k-row table is never loaded whole. */
  private static final long WINDOW = 8192;

  private EmbeddingRows() {}

  /** {@code rows} with {@code newRows} rows; the source itself when the count already matches. */
  public static TensorSource resized(TensorSource rows, long newRows) {
    long[] s = rows.shape();
    if (s.length != 2) {
      throw new SafetensorsException(rows.name() + ": a token table must be 2-D (tokens, hidden), got "
          + Arrays.toString(s));
    }
    if (newRows <= 0) {
      throw new IllegalArgumentException(rows.name() + ": cannot resize to " + newRows + " rows");
    }
    return newRows == s[0] ? rows : new Resized(rows, newRows);
  }

  private static final class Resized implements TensorSource {
    private final TensorSource inner;
    private final long rows;
    private final long oldRows;
    private final long hidden;
    private float[] mean; // computed on first need: only added rows use it

    Resized(TensorSource inner, long rows) {
      this.inner = inner;
      this.rows = rows;
      this.oldRows = inner.shape()[0];
      this.hidden = inner.shape()[1];
    }

    @Override
    public String name() {
      return inner.name();
    }

    @Override
    public Dtype dtype() {
      return inner.dtype();
    }

    @Override
    public long[] shape() {
      return new long[] {rows, hidden};
    }

    @Override
    public NDArray load(NDManager manager) {
      return loadRows(0, rows, manager);
    }

    @Override
    public NDArray loadRows(long from, long to, NDManager manager) {
      if (from < 0 || to < from || to > rows) {
        throw new SafetensorsException(name() + ": rows [" + from + ", " + to + ") out of range (" + rows + ")");
      }
      long kept = Math.max(0, Math.min(to, oldRows) - from);
      long added = (to - from) - kept;
      if (added == 0) {
        return inner.loadRows(from, to, manager);
      }
      NDArray fill;
      try (NDArray one = manager.create(mean(manager), new Shape(1, hidden))) {
        fill = one.repeat(0, added);
      }
      if (kept == 0) {
        return fill;
      }
      NDArray head = inner.loadRows(from, from + kept, manager);
      NDArray out = NDArrays.concat(new NDList(head, fill), 0);
      head.close();
      fill.close();
      return out;
    }

    private synchronized float[] mean(NDManager manager) {
      if (mean == null) {
        double[] sum = new double[(int) hidden];
        try (NDManager scratch = manager.newSubManager()) {
          for (long r = 0; r < oldRows; r += WINDOW) {
            try (NDArray window = inner.loadRows(r, Math.min(oldRows, r + WINDOW), scratch);
                NDArray colSum = window.sum(new int[] {0})) {
              float[] part = colSum.toFloatArray();
              for (int i = 0; i < part.length; i++) {
                sum[i] += part[i];
              }
            }
          }
        }
        float[] m = new float[sum.length];
        for (int i = 0; i < m.length; i++) {
          m[i] = (float) (sum[i] / oldRows);
        }
        mean = m;
      }
      return mean;
    }
  }
}
