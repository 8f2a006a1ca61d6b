package ai.bakery.data.source.records;

import java.io.Closeable;
import java.util.Iterator;

/** Rows of one unit, from a start row; frees files and Arrow memory on close. */
public interface RecordIterator extends Iterator<Record>, Closeable {
  @Override
  void close();
}
