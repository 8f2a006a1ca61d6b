package ai.bakery.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.PrintStream;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Result rows of a benchmark or an inspection, printed as a table or, with {@code --json}, as one JSON object
 * per line. Providers return rows in whichever form suits them: a {@code Map} (column order kept) or a record
 * (its components are the columns); a provider in a module below the CLI needs no CLI type.
 */
public final class BenchRows {
  private static final ObjectMapper JSON = new ObjectMapper().disable(SerializationFeature.INDENT_OUTPUT);

  private final List<Map<String, Object>> rows;

  private BenchRows(List<Map<String, Object>> rows) {
    this.rows = rows;
  }

  public static BenchRows of(List<?> rows) {
    List<Map<String, Object>> out = new ArrayList<>();
    for (Object row : rows) {
      out.add(asMap(row));
    }
    return new BenchRows(out);
  }

  public List<Map<String, Object>> rows() {
    return rows;
  }

  /** Prints as a table, or as JSON lines when {@code json}. */
  public void print(PrintStream out, boolean json) {
    if (json) {
      for (Map<String, Object> row : rows) {
        out.println(jsonLine(row));
      }
    } else {
      out.print(TablePrinter.render(rows));
    }
    out.flush();
  }

  static String jsonLine(Map<String, Object> row) {
    try {
      return JSON.writeValueAsString(row);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("row cannot be written as JSON: " + row, e);
    }
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> asMap(Object row) {
    if (row instanceof Map<?, ?> m) {
      Map<String, Object> copy = new LinkedHashMap<>();
      m.forEach((k, v) -> copy.put(String.valueOf(k), v));
      return copy;
    }
    if (row instanceof Record r) {
      Map<String, Object> m = new LinkedHashMap<>();
      for (RecordComponent c : r.getClass().getRecordComponents()) {
        try {
          c.getAccessor().setAccessible(true);
          m.put(c.getName(), c.getAccessor().invoke(r));
        } catch (ReflectiveOperationException e) {
          throw new IllegalStateException("cannot read " + c.getName() + " of " + r, e);
        }
      }
      return m;
    }
    throw new IllegalArgumentException("a bench row must be a Map or a record, got " + row.getClass().getName());
  }
}
