package ai.bakery.cli;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** Renders rows as an aligned text table: columns in first-seen order, numbers right-aligned. */
public final class TablePrinter {
  private TablePrinter() {}

  public static String render(List<Map<String, Object>> rows) {
    if (rows.isEmpty()) {
      return "(no rows)\n";
    }
    Set<String> columns = new LinkedHashSet<>();
    rows.forEach(r -> columns.addAll(r.keySet()));
    List<String> cols = new ArrayList<>(columns);
    int[] width = new int[cols.size()];
    boolean[] numeric = new boolean[cols.size()];
    Arrays.fill(numeric, true);
    List<String[]> cells = new ArrayList<>();
    for (Map<String, Object> r : rows) {
      String[] line = new String[cols.size()];
      for (int i = 0; i < cols.size(); i++) {
        Object v = r.get(cols.get(i));
        line[i] = format(v);
        if (v != null && !(v instanceof Number)) {
          numeric[i] = false;
        }
      }
      cells.add(line);
    }
    for (int i = 0; i < cols.size(); i++) {
      width[i] = cols.get(i).length();
      for (String[] line : cells) {
        width[i] = Math.max(width[i], line[i].length());
      }
    }
    StringBuilder b = new StringBuilder();
    appendLine(b, cols.toArray(new String[0]), width, numeric);
    String[] rule = new String[cols.size()];
    for (int i = 0; i < rule.length; i++) {
      rule[i] = "-".repeat(width[i]);
    }
    appendLine(b, rule, width, new boolean[cols.size()]);
    for (String[] line : cells) {
      appendLine(b, line, width, numeric);
    }
    return b.toString();
  }

  static String format(Object v) {
    if (v == null) {
      return "";
    }
    if (v instanceof Double || v instanceof Float) {
      double d = ((Number) v).doubleValue();
      if (d == Math.rint(d) && Math.abs(d) < 1e15) {
        return String.format(Locale.ROOT, "%.1f", d);
      }
      double a = Math.abs(d);
      if (a != 0 && (a < 1e-3 || a >= 1e9)) {
        return String.format(Locale.ROOT, "%.3e", d);
      }
      if (a >= 1000) {
        return String.format(Locale.ROOT, "%.1f", d);
      }
      String plain = new java.math.BigDecimal(d).round(new java.math.MathContext(4)).stripTrailingZeros()
          .toPlainString();
      return plain.contains(".") ? plain : plain + ".0";
    }
    if (v instanceof long[] arr) {
      return Arrays.toString(arr);
    }
    if (v instanceof int[] arr) {
      return Arrays.toString(arr);
    }
    return String.valueOf(v);
  }

  private static void appendLine(StringBuilder b, String[] cells, int[] width, boolean[] right) {
    for (int i = 0; i < cells.length; i++) {
      if (i > 0) {
        b.append("  ");
      }
      String fmt = right[i] ? "%" + width[i] + "s" : "%-" + width[i] + "s";
      b.append(String.format(fmt, cells[i]));
    }
    int end = b.length();
    while (end > 0 && b.charAt(end - 1) == ' ') {
      end--;
    }
    b.setLength(end);
    b.append('\n');
  }
}
