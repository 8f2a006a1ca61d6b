package ai.bakery.model.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Rotary position embedding in HF Qwen2's "rotate half" layout: dims [0, D/2) pair with [D/2, D), frequency
 * i is theta^(-2i/D), and x' = x cos + rotate_half(x) sin with rotate_half(x) = [-x2, x1]. Positions come
 * per token from the packed position ids (an image's tokens share one), so samples in a pack are independent.
 */
public final class Rope {
  private final int headDim;
  private final float[] invFreq;

  public Rope(int headDim, double theta) {
    if (headDim <= 0 || headDim % 2 != 0) {
      throw new IllegalArgumentException("rope head_dim must be even and > 0, got " + headDim);
    }
    if (!(theta > 1)) {
      throw new IllegalArgumentException("rope_theta must be > 1, got " + theta);
    }
    this.headDim = headDim;
    this.invFreq = new float[headDim / 2];
    for (int i = 0; i < invFreq.length; i++) {
      // fp32 throughout, as HF computes inv_freq.
      float exponent = (float) (2 * i) / (float) headDim;
      invFreq[i] = 1.0f / (float) Math.pow((float) theta, exponent);
    }
  }

  /** cos and sin, each (T, D) in fp32, shared by every layer of one forward. */
  public record Table(NDArray cos, NDArray sin) {}

  /** @param positionIds (T) integer positions, on the step's manager */
  public Table table(NDArray positionIds) {
    NDManager m = positionIds.getManager();
    long t = positionIds.getShape().size();
    NDArray pos = positionIds.toType(DataType.FLOAT32, false).reshape(t, 1);
    NDArray freqs = pos.mul(m.create(invFreq, new Shape(1, invFreq.length))); // (T, D/2)
    NDArray emb = freqs.concat(freqs, 1); // (T, D)
    return new Table(emb.cos(), emb.sin());
  }

  /** @param x (T, H, D) @return x rotated per token, same shape */
  public NDArray apply(NDArray x, Table table) {
    if (x.getShape().get(2) != headDim) {
      throw new IllegalArgumentException("rope expects head_dim " + headDim + ", got " + x.getShape());
    }
    NDArray cos = table.cos().expandDims(1); // (T, 1, D)
    NDArray sin = table.sin().expandDims(1);
    return x.mul(cos).add(rotateHalf(x).mul(sin));
  }

  static NDArray rotateHalf(NDArray x) {
    NDList halves = x.split(2, x.getShape().dimension() - 1);
    return halves.get(1).neg().concat(halves.get(0), -1);
  }

  public int headDim() {
    return headDim;
  }

  /** theta^(-2i/D) for i in [0, D/2), as used. */
  public float[] invFreq() {
    return invFreq.clone();
  }
}
