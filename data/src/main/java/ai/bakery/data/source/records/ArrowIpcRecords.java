package ai.bakery.data.source.records;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.NoSuchElementException;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.apache.arrow.vector.ipc.message.ArrowBlock;

/**
 * Arrow IPC files, in the random-access file format ({@code ARROW1} magic) or the stream format that
 * Hugging Face {@code datasets} writes. One unit per record batch.
 */
final class ArrowIpcRecords implements RecordIterator {
  private static final byte[] FILE_MAGIC = "ARROW1".getBytes(StandardCharsets.US_ASCII);

  private final BufferAllocator allocator;
  private final ArrowReader reader;
  private final VectorSchemaRoot root;
  private final int rows;
  private int row;

  private ArrowIpcRecords(BufferAllocator allocator, ArrowReader reader, int startRow) throws IOException {
    this.allocator = allocator;
    this.reader = reader;
    this.root = reader.getVectorSchemaRoot();
    this.rows = root.getRowCount();
    this.row = startRow;
  }

  static boolean isFileFormat(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      return Arrays.equals(in.readNBytes(6), FILE_MAGIC);
    }
  }

  /** Rows of every record batch. */
  static long[] batchRows(Path file) throws IOException {
    try (BufferAllocator allocator = new RootAllocator(); ArrowReader reader = reader(file, allocator)) {
      if (reader instanceof ArrowFileReader f) {
        List<ArrowBlock> blocks = f.getRecordBlocks();
        long[] out = new long[blocks.size()];
        for (int i = 0; i < out.length; i++) {
          f.loadRecordBatch(blocks.get(i));
          out[i] = f.getVectorSchemaRoot().getRowCount();
        }
        return out;
      }
      long[] out = new long[16];
      int n = 0;
      while (reader.loadNextBatch()) {
        if (n == out.length) {
          out = Arrays.copyOf(out, n * 2);
        }
        out[n++] = reader.getVectorSchemaRoot().getRowCount();
      }
      return Arrays.copyOf(out, n);
    } catch (RuntimeException e) {
      throw new IOException("unreadable arrow file " + file + ": " + e.getMessage(), e);
    }
  }

  static RecordIterator open(Path file, int batch, long startRow) throws IOException {
    BufferAllocator allocator = new RootAllocator();
    ArrowReader reader = null;
    try {
      reader = reader(file, allocator);
      boolean found;
      if (reader instanceof ArrowFileReader f) {
        List<ArrowBlock> blocks = f.getRecordBlocks();
        found = batch < blocks.size() && f.loadRecordBatch(blocks.get(batch));
      } else {
        found = true;
        for (int b = 0; b <= batch && found; b++) {
          found = reader.loadNextBatch();
        }
      }
      if (!found) {
        throw new IOException("arrow file has no batch " + batch + ": " + file);
      }
      return new ArrowIpcRecords(allocator, reader, (int) Math.min(startRow, Integer.MAX_VALUE));
    } catch (IOException | RuntimeException e) {
      ParquetRecords.closeQuietly(reader, allocator);
      throw e instanceof IOException io ? io : new IOException("unreadable arrow file " + file + ": " + e, e);
    }
  }

  private static ArrowReader reader(Path file, BufferAllocator allocator) throws IOException {
    if (isFileFormat(file)) {
      return new ArrowFileReader(FileChannel.open(file, StandardOpenOption.READ), allocator);
    }
    return new ArrowStreamReader(Files.newInputStream(file), allocator);
  }

  @Override
  public boolean hasNext() {
    return row < rows;
  }

  @Override
  public Record next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    int r = row++;
    try {
      return Record.ok(r, ArrowValues.row(root, r));
    } catch (RuntimeException e) {
      return Record.bad(r, "undecodable arrow row: " + e.getMessage());
    }
  }

  @Override
  public void close() {
    ParquetRecords.closeQuietly(reader, allocator);
  }
}
