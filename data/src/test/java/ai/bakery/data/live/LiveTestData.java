package ai.bakery.data.live;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Text-only messages records whose assistant text carries a recognisable id. */
final class LiveTestData {
  private LiveTestData() {}

  static String record(String id) {
    return "{\"messages\":[{\"role\":\"user\",\"content\":\"question for " + id + "\"},"
        + "{\"role\":\"assistant\",\"content\":\"answer " + id + " done\"}]}";
  }

  /** Appends lines (each with its newline) and returns the byte offset each starts at. */
  static long[] append(Path file, String... lines) throws IOException {
    long start = Files.exists(file) ? Files.size(file) : 0;
    long[] offsets = new long[lines.length];
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < lines.length; i++) {
      offsets[i] = start + b.toString().getBytes(StandardCharsets.UTF_8).length;
      b.append(lines[i]).append('\n');
    }
    Files.writeString(file, b.toString(), StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    return offsets;
  }

  /** The id in a sample's assistant text ("answer ID done"). */
  static String idOf(ai.bakery.data.sample.Sample s) {
    for (var item : s.items()) {
      if (item instanceof ai.bakery.data.sample.SampleItem.Text t && t.text().startsWith("answer ")) {
        return t.text().split(" ")[1];
      }
    }
    throw new AssertionError("no id in " + s);
  }
}
