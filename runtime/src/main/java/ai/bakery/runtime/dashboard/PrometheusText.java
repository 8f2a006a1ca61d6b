package ai.bakery.runtime.dashboard;

import java.util.Map;
import java.util.TreeMap;

/**
 * Renders a {@link RunState} in Prometheus' text exposition format (version 0.0.4): for each metric a
 * {@code # HELP} and {@code # TYPE} line, then one sample line per label set.
 */
public final class PrometheusText {
  /** The Content-Type Prometheus expects for this format. */
  public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

  private PrometheusText() {}

  public static String render(RunState s) {
    StringBuilder out = new StringBuilder(2048);
    StepRecord last = s.latest();
    gauge(out, "bakery_step", "Last finished optimizer step (-1 before the first).", s.step());
    gauge(out, "bakery_total_steps", "Planned number of steps (0 when unknown).", s.totalSteps());
    header(out, "bakery_job_state", "Job state: 1 for the current one.", "gauge");
    sample(out, "bakery_job_state", Map.of("state", s.state()), 1);
    if (last != null) {
      header(out, "bakery_loss", "Training loss of the last step by kind.", "gauge");
      sample(out, "bakery_loss", Map.of("kind", "ce"), last.ce());
      sample(out, "bakery_loss", Map.of("kind", "mse"), last.mse());
      gauge(out, "bakery_lr", "Learning rate of the last step.", last.lr());
      gauge(out, "bakery_grad_norm", "Global gradient norm of the last step, before clipping.", last.gradNorm());
      gauge(out, "bakery_tokens_per_second", "Packed tokens per second over the last logging window.",
          last.tokensPerSecond());
      gauge(out, "bakery_mfu", "Model FLOPs utilisation as a fraction of peak.", last.mfu());
    }
    counter(out, "bakery_tokens_total", "Packed tokens trained on.", s.tokensTotal());
    counter(out, "bakery_skipped_steps_total", "Optimizer steps dropped for non-finite gradients or losses.",
        s.skippedSteps());

    header(out, "bakery_data_skips_total", "Samples the data pipeline skipped, by reason.", "counter");
    for (Map.Entry<String, Long> e : s.data().skipsByReason().entrySet()) {
      sample(out, "bakery_data_skips_total", Map.of("reason", e.getKey()), e.getValue());
    }
    header(out, "bakery_data_queue_depth", "Items waiting in a data pipeline queue.", "gauge");
    for (Map.Entry<String, Integer> e : s.data().queueDepths().entrySet()) {
      sample(out, "bakery_data_queue_depth", Map.of("queue", e.getKey()), e.getValue());
    }
    gauge(out, "bakery_data_lag_seconds", "How far a live data source is behind its newest data.",
        s.data().lagSeconds());

    Map<String, long[]> byRole = new TreeMap<>();
    for (Member m : s.members()) {
      long[] c = byRole.computeIfAbsent(m.role(), k -> new long[2]);
      c[0]++;
      if (m.up()) {
        c[1]++;
      }
    }
    header(out, "bakery_members", "Members of the job by role.", "gauge");
    for (Map.Entry<String, long[]> e : byRole.entrySet()) {
      sample(out, "bakery_members", Map.of("role", e.getKey()), e.getValue()[0]);
    }
    header(out, "bakery_members_up", "Healthy members of the job by role.", "gauge");
    for (Map.Entry<String, long[]> e : byRole.entrySet()) {
      sample(out, "bakery_members_up", Map.of("role", e.getKey()), e.getValue()[1]);
    }
    header(out, "bakery_member_up", "1 when the member reports healthy, else 0.", "gauge");
    for (Member m : s.members()) {
      Map<String, String> labels = new TreeMap<>();
      labels.put("name", m.name());
      labels.put("role", m.role());
      labels.put("device", m.device());
      sample(out, "bakery_member_up", labels, m.up() ? 1 : 0);
    }
    gauge(out, "bakery_checkpoints", "Checkpoints seen by this monitor (the last ones are kept).",
        s.checkpoints().size());
    if (!s.checkpoints().isEmpty()) {
      gauge(out, "bakery_last_checkpoint_step", "Step of the newest checkpoint.",
          s.checkpoints().get(s.checkpoints().size() - 1).step());
    }
    return out.toString();
  }

  private static void gauge(StringBuilder out, String name, String help, double value) {
    header(out, name, help, "gauge");
    sample(out, name, Map.of(), value);
  }

  private static void counter(StringBuilder out, String name, String help, double value) {
    header(out, name, help, "counter");
    sample(out, name, Map.of(), value);
  }

  private static void header(StringBuilder out, String name, String help, String type) {
    out.append("# HELP ").append(name).append(' ').append(help.replace("\\", "\\\\").replace("\n", "\\n"))
        .append('\n');
    out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
  }

  private static void sample(StringBuilder out, String name, Map<String, String> labels, double value) {
    out.append(name);
    if (!labels.isEmpty()) {
      out.append('{');
      boolean first = true;
      for (Map.Entry<String, String> e : new TreeMap<>(labels).entrySet()) {
        if (!first) {
          out.append(',');
        }
        first = false;
        out.append(e.getKey()).append("=\"").append(escapeLabel(e.getValue())).append('"');
      }
      out.append('}');
    }
    out.append(' ').append(number(value)).append('\n');
  }

  static String escapeLabel(String v) {
    return v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
  }

  /** Integers without a fraction, NaN and infinities as Prometheus spells them. */
  static String number(double v) {
    if (Double.isNaN(v)) {
      return "NaN";
    }
    if (Double.isInfinite(v)) {
      return v > 0 ? "+Inf" : "-Inf";
    }
    if (v == Math.rint(v) && Math.abs(v) < 1e15) {
      return Long.toString((long) v);
    }
    return Double.toString(v); // shortest exact form; "1.0E-4" parses as a Go float
  }
}
