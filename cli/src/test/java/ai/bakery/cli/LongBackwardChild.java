package ai.bakery.cli;

import ai.bakery.model.tensor.Torch;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.nio.file.Path;
import java.time.Duration;
import sun.misc.Signal;

/**
 * A child JVM for {@link PreemptionTest}: backward calls of a deep chain (seconds inside libtorch, one after another),
 * a SIGTERM to itself 100 ms into the first (and another 200 ms later with {@code args[1] = twice}) and a grace period
 * of {@code args[0]} ms, so {@link Preemption} forces the exit while the main thread is still in native code.
 */
final class LongBackwardChild {
  private LongBackwardChild() {}

  public static void main(String[] args) throws Exception {
    Torch.init();
    Thread signal = new Thread(() -> {
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        return;
      }
      Signal.raise(new Signal("TERM"));
      if (args.length > 1 && args[1].equals("twice")) {
        try {
          Thread.sleep(200); // apart, so the kernel delivers two signals, not one pending
        } catch (InterruptedException e) {
          return;
        }
        Signal.raise(new Signal("TERM"));
      }
    });
    try (Preemption p = Preemption.install(Duration.ofMillis(Long.parseLong(args[0])), Path.of("no-checkpoints"));
        NDManager m = NDManager.newBaseManager()) {
      NDArray w = m.randomNormal(new Shape(400, 400)).div(20);
      System.out.println("backward starts");
      for (int step = 0; ; step++) {
        // on a machine fast enough to finish one backward before the forced exit, the next ones are still running
        try (NDManager s = m.newSubManager(); GradientCollector gc = Engine.getInstance().newGradientCollector()) {
          NDArray x = s.randomNormal(new Shape(400, 400));
          x.setRequiresGradient(true);
          NDArray y = x;
          for (int i = 0; i < 300; i++) {
            y = y.matMul(w).tanh();
          }
          if (step == 0) {
            signal.start();
          }
          gc.backward(y.sum());
        }
      }
    }
  }
}
