package ai.bakery.runtime.metrics;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A one-line progress bar with rate and ETA, redrawn in place; only drawn when stdout is a terminal so logs and
 * pipes stay clean.
 */
public final class ProgressBar {
  private static final int WIDTH = 24;

  private final PrintStream out;
  private final long total;
  private final long first;
  private final long startNanos;
  private boolean drawn;

  /** @return a bar on stdout when it is a terminal, else null */
  public static ProgressBar forTerminal(long firstStep, long totalSteps) {
    return System.console() != null ? new ProgressBar(System.out, firstStep, totalSteps) : null;
  }

  public ProgressBar(PrintStream out, long firstStep, long totalSteps) {
    this.out = out;
    this.first = firstStep;
    this.total = totalSteps;
    this.startNanos = System.nanoTime();
  }

  /** The line for {@code done} steps finished; {@code extra} is appended (losses). */
  public String line(long done, String extra, long nowNanos) {
    double frac = total <= 0 ? 1 : Math.min(1.0, (double) done / total);
    int filled = (int) Math.round(frac * WIDTH);
    double seconds = (nowNanos - startNanos) / 1e9;
    long run = done - first;
    double rate = seconds > 0 ? run / seconds : 0;
    String eta = rate > 0 ? duration((total - done) / rate) : "--:--:--";
    return String.format(Locale.ROOT, "[%s%s] %d/%d %3.0f%% | %.2f step/s | ETA %s | %s", "#".repeat(filled),
        "-".repeat(WIDTH - filled), done, total, frac * 100, rate, eta, extra);
  }

  public void update(long done, String extra) {
    out.print("\r" + line(done, extra, System.nanoTime()) + "\u001b[K");
    out.flush();
    drawn = true;
  }

  /** Ends the bar's line so the next log line starts clean. */
  public void finish() {
    if (drawn) {
      out.println();
      drawn = false;
    }
  }

  static String duration(double seconds) {
    long s = Math.max(0, Math.round(seconds));
    return String.format(Locale.ROOT, "%02d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
  }
}
