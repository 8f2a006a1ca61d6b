package ai.bakery.runtime.metrics;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The run's metrics as JSON lines ({@code metrics.jsonl} in the results folder), one object per logged step,
 * appended and flushed line by line so a crash loses at most the line being written.
 */
public final class MetricsLog implements AutoCloseable {
  public static final String FILE = "metrics.jsonl";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path file;
  private final BufferedWriter out;

  public MetricsLog(Path resultsDir) {
    this.file = resultsDir.resolve(FILE);
    try {
      Files.createDirectories(resultsDir);
      this.out = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
          StandardOpenOption.APPEND);
    } catch (IOException e) {
      throw new UncheckedIOException(file + ": cannot open metrics file: " + e.getMessage(), e);
    }
  }

  public Path file() {
    return file;
  }

  /** One step's metrics. Non-finite numbers are written as strings ("NaN"), which JSON cannot hold as numbers. */
  public void write(Map<String, ?> record) {
    Map<String, Object> safe = new LinkedHashMap<>();
    for (Map.Entry<String, ?> e : record.entrySet()) {
      Object v = e.getValue();
      if (v instanceof Double d && !Double.isFinite(d)) {
        v = d.toString();
      }
      safe.put(e.getKey(), v);
    }
    try {
      out.write(JSON.writeValueAsString(safe));
      out.newLine();
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(file + ": cannot write metrics: " + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    try {
      out.close();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
