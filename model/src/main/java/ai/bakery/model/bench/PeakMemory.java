package ai.bakery.model.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Peak resident memory of a piece of work, from Linux's high-water mark: the mark is reset before the work
 * ({@code clear_refs} 5) and read after it. Native tensors are resident memory, so this sees libtorch's
 * allocations that the JVM heap does not.
 */
public final class PeakMemory {
  private static final Path STATUS = Path.of("/proc/self/status");
  private static final Path CLEAR_REFS = Path.of("/proc/self/clear_refs");

  private PeakMemory() {}

  /** Bytes the peak rose above the resident size at the start; -1 where the kernel offers no reset. */
  public static long measure(Runnable work) {
    if (!reset()) {
      work.run();
      return -1;
    }
    long start = field("VmRSS:");
    work.run();
    return Math.max(0, field("VmHWM:") - start);
  }

  public static boolean available() {
    return Files.isWritable(CLEAR_REFS) && Files.isReadable(STATUS);
  }

  private static boolean reset() {
    try {
      Files.writeString(CLEAR_REFS, "5");
      return true;
    } catch (IOException | SecurityException e) {
      return false;
    }
  }

  static long field(String name) {
    try {
      for (String line : Files.readAllLines(STATUS)) {
        if (line.startsWith(name)) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (IOException e) {
      throw new IllegalStateException("cannot read " + STATUS, e);
    }
    throw new IllegalStateException("no " + name + " in " + STATUS);
  }
}
