package ai.bakery.data.live;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the complete lines of a growing file from a byte offset. A line without its newline is still being
 * written and is left for a later read, so a position (the byte after a newline) always falls between lines.
 */
final class JsonLineReader {
  /** One line: its text (no newline), where it starts and where the next one does. */
  record Line(String text, long offset, long next) {}

  /** Longest line accepted; a longer one is passed over as malformed rather than buffered without bound. */
  static final int MAX_LINE_BYTES = 64 << 20;

  private JsonLineReader() {}

  /**
   * Up to {@code maxLines} complete lines starting at {@code offset}. A line longer than
   * {@link #MAX_LINE_BYTES} comes back with null text (the caller counts it as malformed).
   */
  static List<Line> read(Path file, long offset, int maxLines) throws IOException {
    return read(file, offset, maxLines, Long.MAX_VALUE);
  }

  /** As {@link #read(Path, long, int)}, reading no byte at or past {@code limit}. */
  static List<Line> read(Path file, long offset, int maxLines, long limit) throws IOException {
    List<Line> out = new ArrayList<>();
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = Math.min(ch.size(), limit);
      long pos = offset;
      ByteBuffer buf = ByteBuffer.allocate(64 << 10);
      java.io.ByteArrayOutputStream line = new java.io.ByteArrayOutputStream();
      long lineStart = pos;
      boolean tooLong = false;
      while (pos < size && out.size() < maxLines) {
        buf.clear();
        buf.limit((int) Math.min(buf.capacity(), size - pos));
        int n = ch.read(buf, pos);
        if (n <= 0) {
          break;
        }
        buf.flip();
        for (int i = 0; i < n && out.size() < maxLines; i++) {
          byte b = buf.get(i);
          if (b == '\n') {
            String text = tooLong ? null : line.toString(StandardCharsets.UTF_8);
            out.add(new Line(text, lineStart, pos + i + 1));
            line.reset();
            tooLong = false;
            lineStart = pos + i + 1;
          } else if (!tooLong) {
            if (line.size() >= MAX_LINE_BYTES) {
              tooLong = true;
              line.reset();
            } else {
              line.write(b);
            }
          }
        }
        pos += n;
        if (out.size() >= maxLines) {
          break;
        }
      }
    }
    return out;
  }
}
