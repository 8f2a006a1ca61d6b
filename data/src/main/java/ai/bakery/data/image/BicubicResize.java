package ai.bakery.data.image;

import java.awt.image.BufferedImage;

/**
 * Separable bicubic resampling with antialiasing, the way PIL resizes (what the reference's torchvision
 * resize does on PIL images): Keys cubic kernel with a = -0.5, its support widened by the scale factor when
 * shrinking, weights normalised per output pixel, horizontal pass then vertical, each pass rounded and
 * clipped to 8 bits.
 */
final class BicubicResize {
  private static final double A = -0.5;

  private BicubicResize() {}

  /** Returns (height, width, 3) RGB values in [0, 255], interleaved. */
  static float[] resize(BufferedImage src, int outW, int outH) {
    int inW = src.getWidth();
    int inH = src.getHeight();
    int[] argb = src.getRGB(0, 0, inW, inH, null, 0, inW);
    float[] in = new float[inW * inH * 3];
    for (int i = 0; i < argb.length; i++) {
      in[i * 3] = (argb[i] >> 16) & 0xff;
      in[i * 3 + 1] = (argb[i] >> 8) & 0xff;
      in[i * 3 + 2] = argb[i] & 0xff;
    }
    if (inW == outW && inH == outH) {
      return in;
    }
    float[] horizontal = pass(in, inW, inH, outW, true);
    return pass(horizontal, outW, inH, outH, false);
  }

  /** Resamples along x (horizontal) or y; {@code w x h} is the input's size. */
  private static float[] pass(float[] in, int w, int h, int outLen, boolean horizontal) {
    int inLen = horizontal ? w : h;
    if (inLen == outLen) {
      return in;
    }
    double scale = (double) inLen / outLen;
    double filterScale = Math.max(scale, 1.0);
    double support = 2.0 * filterScale;
    int outW = horizontal ? outLen : w;
    int outH = horizontal ? h : outLen;
    float[] out = new float[outW * outH * 3];
    for (int o = 0; o < outLen; o++) {
      double center = (o + 0.5) * scale;
      int lo = Math.max(0, (int) (center - support + 0.5));
      int hi = Math.min(inLen, (int) (center + support + 0.5));
      double[] wts = new double[hi - lo];
      double sum = 0;
      for (int j = lo; j < hi; j++) {
        double wt = cubic((j - center + 0.5) / filterScale);
        wts[j - lo] = wt;
        sum += wt;
      }
      if (sum != 0) {
        for (int k = 0; k < wts.length; k++) {
          wts[k] /= sum;
        }
      }
      int lines = horizontal ? h : w;
      for (int line = 0; line < lines; line++) {
        double r = 0;
        double g = 0;
        double b = 0;
        for (int j = lo; j < hi; j++) {
          int idx = 3 * (horizontal ? line * w + j : j * w + line);
          double wt = wts[j - lo];
          r += in[idx] * wt;
          g += in[idx + 1] * wt;
          b += in[idx + 2] * wt;
        }
        int oi = 3 * (horizontal ? line * outW + o : o * outW + line);
        out[oi] = clip8(r);
        out[oi + 1] = clip8(g);
        out[oi + 2] = clip8(b);
      }
    }
    return out;
  }

  private static float clip8(double v) {
    return (float) Math.min(255, Math.max(0, Math.rint(v)));
  }

  private static double cubic(double x) {
    x = Math.abs(x);
    if (x < 1) {
      return ((A + 2) * x - (A + 3)) * x * x + 1;
    }
    if (x < 2) {
      return (((x - 5) * x + 8) * x - 4) * A;
    }
    return 0;
  }
}
