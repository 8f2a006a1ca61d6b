package ai.bakery.data.source;

import java.io.Closeable;
import java.util.Iterator;

/**
 * Reads one {@link ShardUnit} from a row offset. Bad rows are counted in the {@link SkipCounter} and passed
 * over, never thrown; {@link #next()} yields only good samples, each with its row. Closing frees the file
 * handle and any native (Arrow) memory; a cursor is used by one thread.
 */
public interface SampleCursor extends Iterator<PositionedSample>, Closeable {
  @Override
  void close();
}
