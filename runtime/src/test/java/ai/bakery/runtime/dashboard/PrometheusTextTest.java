package ai.bakery.runtime.dashboard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class PrometheusTextTest {
  private static final Pattern SAMPLE = Pattern.compile(
      "([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{((?:[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\\\n]|\\\\[\\\\\"n])*\",?)*)})? (\\S+)");
  private static final Pattern TYPE = Pattern.compile("# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (gauge|counter)");

  /** Parses the exposition text strictly; fails on any line the format does not allow. Keys: name{labels}. */
  static Map<String, Double> parse(String text) {
    assertTrue(text.endsWith("\n"), "exposition must end with a newline");
    Map<String, Double> samples = new LinkedHashMap<>();
    Set<String> typed = new HashSet<>();
    for (String line : text.split("\n")) {
      if (line.startsWith("# HELP ")) {
        continue;
      }
      Matcher t = TYPE.matcher(line);
      if (t.matches()) {
        assertTrue(typed.add(t.group(1)), "TYPE repeated for " + t.group(1));
        continue;
      }
      Matcher s = SAMPLE.matcher(line);
      if (!s.matches()) {
        fail("not a valid exposition line: '" + line + "'");
      }
      assertTrue(typed.contains(s.group(1)), "sample before its TYPE: " + line);
      String v = s.group(4);
      double value = switch (v) {
        case "NaN" -> Double.NaN;
        case "+Inf" -> Double.POSITIVE_INFINITY;
        case "-Inf" -> Double.NEGATIVE_INFINITY;
        default -> Double.parseDouble(v);
      };
      String key = s.group(1) + (s.group(2) == null ? "" : s.group(2));
      assertFalse(samples.containsKey(key), "duplicate sample " + key);
      samples.put(key, value);
    }
    return samples;
  }

  @Test
  void rendersEveryFigureOfTheState() {
    RunMonitor m = new RunMonitor("job");
    m.setTotalSteps(100);
    m.onStep(new StepRecord(41, 2.0, 0.5, 3e-4, 1.25, 5000, 0.125, 64, false, 0));
    m.onStep(new StepRecord(42, 1.5, 0.25, 2.5e-4, Double.NaN, 6000, 0.25, 64, true, 0));
    m.putMember(new Member("coord", "coordinator", "up", "cpu", 0));
    m.putMember(new Member("w0", "trainer", "up", "cuda:0", 0));
    m.putMember(new Member("w1", "trainer", "unreachable", "cuda:1", 0));
    m.setDataHealth(new DataHealth(Map.of("packed", 4), Map.of("corrupt_image", 3L, "too \"long\"", 1L), 0.5));
    m.onCheckpoint(40, java.nio.file.Path.of("/runs/ck/0000040"));
    Map<String, Double> p = parse(PrometheusText.render(m.snapshot()));

    Map<String, Double> expected = new HashMap<>();
    expected.put("bakery_step", 42.0);
    expected.put("bakery_total_steps", 100.0);
    expected.put("bakery_job_state{state=\"running\"}", 1.0);
    expected.put("bakery_loss{kind=\"ce\"}", 1.5);
    expected.put("bakery_loss{kind=\"mse\"}", 0.25);
    expected.put("bakery_lr", 2.5e-4);
    expected.put("bakery_tokens_per_second", 6000.0);
    expected.put("bakery_mfu", 0.25);
    expected.put("bakery_tokens_total", 128.0);
    expected.put("bakery_skipped_steps_total", 1.0);
    expected.put("bakery_data_skips_total{reason=\"corrupt_image\"}", 3.0);
    expected.put("bakery_data_skips_total{reason=\"too \\\"long\\\"\"}", 1.0);
    expected.put("bakery_data_queue_depth{queue=\"packed\"}", 4.0);
    expected.put("bakery_data_lag_seconds", 0.5);
    expected.put("bakery_members{role=\"coordinator\"}", 1.0);
    expected.put("bakery_members{role=\"trainer\"}", 2.0);
    expected.put("bakery_members_up{role=\"trainer\"}", 1.0);
    expected.put("bakery_member_up{device=\"cuda:1\",name=\"w1\",role=\"trainer\"}", 0.0);
    expected.put("bakery_member_up{device=\"cuda:0\",name=\"w0\",role=\"trainer\"}", 1.0);
    expected.put("bakery_last_checkpoint_step", 40.0);
    for (Map.Entry<String, Double> e : expected.entrySet()) {
      assertTrue(p.containsKey(e.getKey()), "missing " + e.getKey() + " in " + p.keySet());
      assertEquals(e.getValue(), p.get(e.getKey()), 0, e.getKey());
    }
    assertTrue(Double.isNaN(p.get("bakery_grad_norm")));
  }

  @Test
  void anEmptyRunIsStillValidAndHasNoLossYet() {
    Map<String, Double> p = parse(PrometheusText.render(new RunMonitor("j").snapshot()));
    assertEquals(-1.0, p.get("bakery_step"));
    assertFalse(p.keySet().stream().anyMatch(k -> k.startsWith("bakery_loss")));
  }

  @Test
  void numbersAndLabelsAreSpelledAsTheFormatWants() {
    assertEquals("NaN", PrometheusText.number(Double.NaN));
    assertEquals("+Inf", PrometheusText.number(Double.POSITIVE_INFINITY));
    assertEquals("-Inf", PrometheusText.number(Double.NEGATIVE_INFINITY));
    assertEquals("42", PrometheusText.number(42));
    assertEquals("-3", PrometheusText.number(-3));
    assertEquals(2.5e-4, Double.parseDouble(PrometheusText.number(2.5e-4)));
    assertEquals("a\\\\b\\\"c\\nd", PrometheusText.escapeLabel("a\\b\"c\nd"));
  }
}
