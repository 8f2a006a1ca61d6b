package ai.bakery.runtime.parallel;

import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.collective.Collective;
import ai.bakery.runtime.collective.GradientBucketer;
import ai.bakery.runtime.collective.ReduceOp;
import ai.bakery.runtime.optim.Gradients;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * DDP as a {@link GradientSync}: every rank holds the whole model and, once per step, the gradients are averaged
 * over the group in buckets ({@link GradientBucketer}). With the loss of each rank scaled by
 * {@code world / global count} (see {@link TokenCountReducer}), the average is the gradient of the mean over
 * every token of the group, as the reference computes it under FSDP.
 *
 * <p>A parameter the forward did not reach has no gradient on that rank (a pack without images never touches
 * the ViT), but may have one elsewhere. The ranks first agree on which parameters have a gradient anywhere;
 * a rank lacking one reduces zeros for it. A parameter no rank reached keeps no gradient and gets no update,
 * which is what one process accumulating the same packs does.
 */
public final class DataParallel implements GradientSync {
  private final Collective group;
  private final GradientBucketer bucketer;

  public DataParallel(Collective group, GradientBucketer.Config config) {
    this.group = group;
    this.bucketer = new GradientBucketer(group, config);
  }

  /** 25 MB buckets in the gradients' dtype. */
  public DataParallel(Collective group) {
    this(group, GradientBucketer.Config.defaults());
  }

  public Collective group() {
    return group;
  }

  @Override
  public void synchronize(Collection<Parameter> params) {
    List<Parameter> list = new ArrayList<>(params);
    if (list.isEmpty()) {
      return;
    }
    long[] has = new long[list.size()];
    try (PointerScope scope = new PointerScope()) {
      for (int i = 0; i < has.length; i++) {
        has[i] = Torch.view(list.get(i).value()).grad().defined() ? 1 : 0;
      }
    }
    long[] anywhere = SmallVectors.allReduce(group, has, ReduceOp.MAX);
    List<Parameter> reduced = new ArrayList<>();
    try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
      for (int i = 0; i < has.length; i++) {
        if (anywhere[i] == 0) {
          continue;
        }
        Parameter p = list.get(i);
        if (has[i] == 0) {
          Tensor v = Torch.view(p.value());
          v.mutable_grad().put(torch.zeros_like(v));
        }
        reduced.add(p);
      }
    }
    if (reduced.isEmpty()) {
      return;
    }
    // DJL handles on the gradients' storage: the bucketer copies the averages back into them
    try (NDManager views = NDManager.newBaseManager()) {
      List<NDArray> grads = new ArrayList<>(reduced.size());
      for (Parameter p : reduced) {
        grads.add(Torch.adopt(Gradients.of(p), views));
      }
      bucketer.allReduce(grads);
    }
  }

  /** Losses are reduced in fp32 (as the reference's all-reduce of {@code loss.item()} tensors). */
  @Override
  public double[] meanOverRanks(double... values) {
    float[] f = new float[values.length];
    for (int i = 0; i < f.length; i++) {
      f[i] = (float) values[i];
    }
    float[] mean = SmallVectors.allReduce(group, f, ReduceOp.AVG);
    double[] out = new double[mean.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = mean[i];
    }
    return out;
  }
}
