package ai.bakery.data.source.records;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.NoSuchElementException;
import org.apache.arrow.dataset.file.FileFormat;
import org.apache.arrow.dataset.file.FileSystemDatasetFactory;
import org.apache.arrow.dataset.jni.NativeMemoryPool;
import org.apache.arrow.dataset.scanner.ScanOptions;
import org.apache.arrow.dataset.scanner.Scanner;
import org.apache.arrow.dataset.source.Dataset;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowReader;

/**
 * Reads one row group of a parquet file through Arrow's native dataset scanner. The Java API cannot select
 * a row group: group 0 is scanned from the file and the scan stops at its end; a later group is scanned from
 * a sparse single-group copy ({@link ParquetFooter#writeSingleGroupFile}, deleted on close) so the groups
 * before it are neither read nor decoded. Should that copy fail, the file is scanned from its start and the
 * rows before the group are counted off (slower, same rows).
 */
final class ParquetRecords implements RecordIterator {
  /** Small batches: rows carry whole images, and only one batch is held at a time. */
  static final int BATCH_ROWS = 16;

  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ParquetRecords.class);

  private final Path file;
  /** The single-group copy being scanned, deleted on close; null when scanning {@code file} itself. */
  private final Path copy;
  private final BufferAllocator allocator;
  private final FileSystemDatasetFactory factory;
  private final Dataset dataset;
  private final Scanner scanner;
  private final ArrowReader reader;
  private final long unitFirstRow;
  private final long unitEnd;
  /** File row of {@code batchRow == 0}. */
  private long batchFirstRow;
  private int batchRow;
  private int batchSize;
  /** Next file row to yield. */
  private long next;
  private boolean failed;

  private ParquetRecords(Path file, Path scanned, Path copy, long unitFirstRow, long unitRows, long startRow) {
    this.file = file;
    this.copy = copy;
    this.unitFirstRow = unitFirstRow;
    this.unitEnd = unitFirstRow + unitRows;
    this.next = unitFirstRow + startRow;
    this.allocator = new RootAllocator();
    FileSystemDatasetFactory f = null;
    Dataset d = null;
    Scanner s = null;
    try {
      f = new FileSystemDatasetFactory(allocator, NativeMemoryPool.getDefault(), FileFormat.PARQUET,
          scanned.toAbsolutePath().toUri().toString());
      d = f.finish();
      s = d.newScan(new ScanOptions(BATCH_ROWS));
      this.reader = s.scanBatches();
    } catch (RuntimeException e) {
      closeQuietly(s, d, f, allocator);
      throw e;
    }
    this.factory = f;
    this.dataset = d;
    this.scanner = s;
  }

  static RecordIterator open(Path file, int rowGroup, long startRow) throws IOException {
    ParquetFooter footer = ParquetFooter.read(file);
    long[] groups = footer.rowGroupRows();
    if (rowGroup < 0 || rowGroup >= groups.length) {
      throw new IOException("row group " + rowGroup + " out of range (file has " + groups.length + "): " + file);
    }
    long rows = groups[rowGroup];
    long start = Math.min(startRow, rows);
    Path copy = null;
    if (rowGroup > 0) {
      try {
        copy = Files.createTempFile("bakery-rowgroup-", ".parquet");
        footer.writeSingleGroupFile(rowGroup, copy);
      } catch (IOException | RuntimeException e) {
        LOG.warn("cannot copy row group {} of {} ({}); scanning the file from its start instead", rowGroup, file,
            e.toString());
        deleteQuietly(copy);
        copy = null;
      }
    }
    try {
      if (copy != null) {
        return new ParquetRecords(file, copy, copy, 0, rows, start);
      }
      long first = 0;
      for (int g = 0; g < rowGroup; g++) {
        first += groups[g];
      }
      return new ParquetRecords(file, file, null, first, rows, start);
    } catch (RuntimeException e) {
      deleteQuietly(copy);
      throw new IOException("cannot open parquet file " + file + ": " + e.getMessage(), e);
    }
  }

  private static void deleteQuietly(Path p) {
    if (p != null) {
      try {
        Files.deleteIfExists(p);
      } catch (IOException ignored) {
        // a temp file left behind is harmless
      }
    }
  }

  @Override
  public boolean hasNext() {
    return !failed && next < unitEnd;
  }

  @Override
  public Record next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    long unitRow = next - unitFirstRow;
    try {
      while (next >= batchFirstRow + batchSize) {
        batchFirstRow += batchSize;
        if (!reader.loadNextBatch()) {
          failed = true;
          return Record.bad(unitRow, "file has fewer rows than its footer says");
        }
        batchSize = reader.getVectorSchemaRoot().getRowCount();
      }
      VectorSchemaRoot root = reader.getVectorSchemaRoot();
      batchRow = (int) (next - batchFirstRow);
      next++;
      return Record.ok(unitRow, ArrowValues.row(root, batchRow));
    } catch (IOException | RuntimeException e) {
      failed = true;
      return Record.bad(unitRow, "undecodable parquet data in " + file + ": " + e.getMessage());
    }
  }

  @Override
  public void close() {
    closeQuietly(reader, scanner, dataset, factory, allocator);
    deleteQuietly(copy);
  }

  static void closeQuietly(AutoCloseable... all) {
    for (AutoCloseable c : all) {
      if (c == null) {
        continue;
      }
      try {
        c.close();
      } catch (Exception ignored) {
        // closing a reader after a native error may fail again; memory is released either way
      }
    }
  }
}
