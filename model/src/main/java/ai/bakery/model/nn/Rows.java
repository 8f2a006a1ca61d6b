package ai.bakery.model.nn;

import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import org.bytedeco.pytorch.global.torch;

/** Row gathers along axis 0 with autograd (libtorch index_select: its backward scatters into the source). */
public final class Rows {
  private Rows() {}

  /**
   * @param x (N, ...) source rows
   * @param index (M) row numbers, any integer type
   * @param into manager that owns the result (the step's)
   * @return (M, ...) with row i = x[index[i]]
   */
  public static NDArray select(NDArray x, NDArray index, NDManager into) {
    NDArray idx = index.getDataType() == DataType.INT64 ? index : index.toType(DataType.INT64, false);
    try {
      return Torch.adopt(torch.index_select(Torch.view(x), 0, Torch.view(idx)), into);
    } finally {
      if (idx != index) {
        idx.close();
      }
    }
  }

  public static NDArray select(NDArray x, NDArray index) {
    return select(x, index, index.getManager());
  }
}
