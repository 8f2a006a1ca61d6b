package ai.bakery.runtime.optim;

/**
 * The reference's learning rate as a function of the optimizer step (the scheduler's {@code last_epoch}):
 * Hugging Face's {@code get_constant_schedule_with_warmup} or {@code get_cosine_with_min_lr_schedule_with_warmup}
 * (half a cosine period, {@code min_lr_rate = min_lr / lr}). Update {@code k} (0-based) uses {@code lr(k)}, so
 * with warm-up the very first update has lr 0, as in the reference.
 */
public final class LrSchedule {
  private final double peakLr;
  private final ScheduleConfig config;

  public LrSchedule(double peakLr, ScheduleConfig config) {
    this.peakLr = peakLr;
    this.config = config;
  }

  /** Multiplier of the peak lr at {@code step}. */
  public double factor(long step) {
    long warmup = config.warmupSteps();
    if (step < warmup) {
      return (double) step / Math.max(1, warmup);
    }
    if (config.lrScheduler().equals("constant")) {
      return 1.0;
    }
    double progress = (double) (step - warmup) / Math.max(1, config.totalSteps() - warmup);
    double cosine = 0.5 * (1.0 + Math.cos(Math.PI * progress));
    double minRate = config.minLr() / peakLr;
    return Math.max(0.0, cosine * (1 - minRate) + minRate);
  }

  public double lr(long step) {
    return peakLr * factor(step);
  }

  public double peakLr() {
    return peakLr;
  }

  public ScheduleConfig config() {
    return config;
  }
}
