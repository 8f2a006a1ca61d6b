package ai.bakery.model.io;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.MappedByteBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Releases a file mapping as soon as its bytes are copied out, instead of whenever the GC finds the buffer:
 * loading a 50 GB checkpoint window by window then keeps one window mapped, not all of them. Only for
 * mappings nothing else references; without {@code sun.misc.Unsafe} it does nothing (the GC still unmaps).
 */
public final class Unmapper {
  private static final Logger LOG = LoggerFactory.getLogger(Unmapper.class);
  private static final Object UNSAFE;
  private static final Method INVOKE_CLEANER;

  static {
    Object unsafe = null;
    Method clean = null;
    try {
      Class<?> c = Class.forName("sun.misc.Unsafe");
      Field f = c.getDeclaredField("theUnsafe");
      f.setAccessible(true);
      unsafe = f.get(null);
      clean = c.getMethod("invokeCleaner", java.nio.ByteBuffer.class);
    } catch (ReflectiveOperationException | RuntimeException e) {
      LOG.debug("no sun.misc.Unsafe.invokeCleaner; mappings are released by the GC", e);
    }
    UNSAFE = unsafe;
    INVOKE_CLEANER = clean;
  }

  private Unmapper() {}

  public static void unmap(MappedByteBuffer buffer) {
    if (INVOKE_CLEANER == null) {
      return;
    }
    try {
      INVOKE_CLEANER.invoke(UNSAFE, buffer);
    } catch (ReflectiveOperationException | RuntimeException e) {
      LOG.debug("unmap failed; left to the GC", e);
    }
  }
}
