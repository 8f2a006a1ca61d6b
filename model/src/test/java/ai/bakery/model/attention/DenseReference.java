package ai.bakery.model.attention;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * The straightforward reference for tests: per sample, a dense visibility matrix built by the reference's
 * two passes (rows see their prefix and their split; then noise columns are hidden from everyone else), and
 * attention as explicit matmul / masked softmax / matmul in DJL.
 */
final class DenseReference {
  private DenseReference() {}

  static boolean[][] visibility(int[] splitLens, AttnMode[] modes) {
    int n = 0;
    for (int s : splitLens) {
      n += s;
    }
    boolean[][] m = new boolean[n][n];
    int c = 0;
    for (int i = 0; i < splitLens.length; i++) {
      int s = splitLens[i];
      for (int r = c; r < c + s; r++) {
        for (int col = 0; col < c + s; col++) {
          m[r][col] = col < c || modes[i] != AttnMode.CAUSAL || col <= r;
        }
      }
      c += s;
    }
    c = 0;
    for (int i = 0; i < splitLens.length; i++) {
      int s = splitLens[i];
      if (modes[i] == AttnMode.NOISE) {
        for (int r = 0; r < n; r++) {
          boolean own = r >= c && r < c + s;
          for (int col = c; col < c + s; col++) {
            m[r][col] = own;
          }
        }
      }
      c += s;
    }
    return m;
  }

  static NDArray attend(NDArray q, NDArray k, NDArray v, PackLayout layout) {
    NDManager mgr = q.getManager();
    int hq = (int) q.getShape().get(1);
    int hkv = (int) k.getShape().get(1);
    double scale = 1.0 / Math.sqrt(q.getShape().get(2));
    NDList outs = new NDList();
    int start = 0;
    int split = 0;
    for (int len : layout.sampleLens()) {
      int first = split;
      int acc = 0;
      while (acc < len) {
        acc += layout.splitLens()[split++];
      }
      int[] lens = java.util.Arrays.copyOfRange(layout.splitLens(), first, split);
      AttnMode[] modes = java.util.Arrays.copyOfRange(layout.modes(), first, split);
      boolean[][] vis = visibility(lens, modes);
      float[] bias = new float[len * len];
      for (int r = 0; r < len; r++) {
        for (int c = 0; c < len; c++) {
          bias[r * len + c] = vis[r][c] ? 0f : Float.NEGATIVE_INFINITY;
        }
      }
      String rows = start + ":" + (start + len);
      NDArray qs = q.get(rows).transpose(1, 0, 2); // (Hq, L, D)
      NDArray ks = k.get(rows).transpose(1, 0, 2).repeat(0, hq / hkv);
      NDArray vs = v.get(rows).transpose(1, 0, 2).repeat(0, hq / hkv);
      NDArray scores = qs.matMul(ks.transpose(0, 2, 1)).mul(scale)
          .add(mgr.create(bias, new Shape(1, len, len)));
      outs.add(scores.softmax(-1).matMul(vs).transpose(1, 0, 2));
      start += len;
    }
    return NDArrays.concat(outs, 0);
  }
}
