package ai.bakery.model.io;

import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.Arrays;
import java.util.function.UnaryOperator;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

/**
 * One named tensor that can be materialised on request, whole or as a range of rows (dim 0), without
 * touching any other tensor of its file. Float data loads as fp32; integer data keeps its type.
 */
public interface TensorSource {
  String name();

  Dtype dtype();

  long[] shape();

  default long numel() {
    long n = 1;
    for (long d : shape()) {
      n *= d;
    }
    return n;
  }

  NDArray load(NDManager manager);

  /** Rows {@code [from, to)} along dim 0, shape (to - from, shape[1:]). */
  NDArray loadRows(long from, long to, NDManager manager);

  /**
   * Copies rows {@code [from, to)} into {@code destination} in place (any dtype or device; a parameter's autograd
   * does not record it), without keeping a loaded copy: a loader fills a model weight at the cost of one window.
   * The destination must hold exactly (to - from) * row-size elements.
   */
  default void copyRowsInto(long from, long to, NDArray destination) {
    try (NDManager scratch = destination.getManager().newSubManager()) {
      NDArray v = loadRows(from, to, scratch);
      if (v.getShape().size() != destination.getShape().size()) {
        throw new SafetensorsException(name() + ": rows [" + from + ", " + to + ") give " + v.getShape()
            + ", the destination is " + destination.getShape());
      }
      Torch.init();
      try (NoGradGuard g = new NoGradGuard(); Tensor dst = Torch.view(destination).detach();
          Tensor src = Torch.view(v).reshape(dst.sizes().vec().get())) {
        dst.copy_(src);
      }
    }
  }

  /**
   * Copies elements {@code [start, end)} of the flattened tensor into {@code destination} ({@code end - start}
   * elements, any dtype), reading no more of the file than the rows that hold them (a file reader reads exactly
   * those bytes): how a sharded rank loads its slice of a weight.
   */
  default void copyElementsInto(long start, long end, NDArray destination) {
    long numel = numel();
    if (start < 0 || end < start || end > numel) {
      throw new SafetensorsException(name() + ": elements [" + start + ", " + end + ") out of range (" + numel + ")");
    }
    if (destination.getShape().size() != end - start) {
      throw new SafetensorsException(name() + ": elements [" + start + ", " + end + ") do not fit the destination "
          + destination.getShape());
    }
    if (end == start) {
      return;
    }
    long[] s = shape();
    long rowElems = s.length == 0 || s[0] == 0 ? 1 : numel / s[0];
    long firstRow = start / rowElems;
    long lastRow = (end + rowElems - 1) / rowElems;
    try (NDManager scratch = destination.getManager().newSubManager()) {
      NDArray rows = s.length == 0 ? load(scratch) : loadRows(firstRow, lastRow, scratch);
      Torch.init();
      try (NoGradGuard g = new NoGradGuard(); Tensor dst = Torch.view(destination).detach();
          Tensor src = Torch.view(rows).reshape(-1).narrow(0, start - firstRow * rowElems, end - start)) {
        dst.copy_(src.reshape(dst.sizes().vec().get()));
      }
    }
  }

  /** Copies the whole tensor into {@code destination} (same number of elements), as {@link #copyRowsInto}. */
  default void copyInto(NDArray destination) {
    long[] s = shape();
    if (s.length == 0) {
      try (NDManager scratch = destination.getManager().newSubManager()) {
        NDArray v = load(scratch);
        Torch.init();
        try (NoGradGuard g = new NoGradGuard(); Tensor dst = Torch.view(destination).detach()) {
          dst.copy_(Torch.view(v).reshape(dst.sizes().vec().get()));
        }
      }
      return;
    }
    copyRowsInto(0, s[0], destination);
  }

  /**
   * The same data under another name and shape: {@code rowwise} maps loaded rows of this source to rows of
   * the result (row i of the result depends only on row i here), so row slices stay cheap.
   */
  default TensorSource transformed(String newName, long[] newShape, UnaryOperator<NDArray> rowwise) {
    TensorSource inner = this;
    if (newShape.length == 0 || shape().length == 0 || newShape[0] != shape()[0]) {
      throw new IllegalArgumentException(name() + ": a row-wise transform must keep dim 0, " + Arrays.toString(shape())
          + " -> " + Arrays.toString(newShape));
    }
    long[] s = newShape.clone();
    return new TensorSource() {
      @Override
      public String name() {
        return newName;
      }

      @Override
      public Dtype dtype() {
        return inner.dtype();
      }

      @Override
      public long[] shape() {
        return s.clone();
      }

      @Override
      public NDArray load(NDManager manager) {
        return apply(inner.load(manager));
      }

      @Override
      public NDArray loadRows(long from, long to, NDManager manager) {
        return apply(inner.loadRows(from, to, manager));
      }

      private NDArray apply(NDArray in) {
        NDArray out = rowwise.apply(in);
        if (out != in) {
          in.close(); // storage a view shares is ref-counted, so this frees only what nothing uses
        }
        return out;
      }
    };
  }

  /** The same data under another name. */
  default TensorSource renamed(String newName) {
    TensorSource inner = this;
    return new TensorSource() {
      @Override
      public String name() {
        return newName;
      }

      @Override
      public Dtype dtype() {
        return inner.dtype();
      }

      @Override
      public long[] shape() {
        return inner.shape();
      }

      @Override
      public NDArray load(NDManager manager) {
        return inner.load(manager);
      }

      @Override
      public NDArray loadRows(long from, long to, NDManager manager) {
        return inner.loadRows(from, to, manager);
      }

      @Override
      public void copyRowsInto(long from, long to, NDArray destination) {
        inner.copyRowsInto(from, to, destination); // same bytes: keep the direct path
      }

      @Override
      public void copyElementsInto(long start, long end, NDArray destination) {
        inner.copyElementsInto(start, end, destination);
      }
    };
  }
}
