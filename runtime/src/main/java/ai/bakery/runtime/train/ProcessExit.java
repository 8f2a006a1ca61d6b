package ai.bakery.runtime.train;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ends the process at once with the C library's {@code _exit}, for when another thread may still be inside
 * libtorch. {@code System.exit} and {@code Runtime.halt} both end in the C library's {@code exit}, whose static
 * destructors free libtorch's globals under that thread: it then crashes (SIGSEGV in
 * {@code at::accelerator::getAccelerator} during a backward pass, status 134 and an hs_err file) instead of
 * exiting with the status asked for. {@code _exit} runs no destructors; what was written to files is kept.
 */
public final class ProcessExit {
  private static final Logger LOG = LoggerFactory.getLogger(ProcessExit.class);

  private ProcessExit() {}

  /** Never returns. Falls back to {@code Runtime.halt} when the C library cannot be called. */
  public static void now(int status) {
    System.out.flush();
    System.err.flush();
    try {
      com.sun.jna.Function.getFunction(com.sun.jna.Platform.C_LIBRARY_NAME, "_exit")
          .invokeVoid(new Object[] {status});
    } catch (Throwable t) {
      LOG.warn("_exit unavailable ({}): halting the JVM instead", t.toString());
    }
    Runtime.getRuntime().halt(status);
  }
}
