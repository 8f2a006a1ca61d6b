package ai.bakery.data.source.records;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.arrow.dataset.file.DatasetFileWriter;
import org.apache.arrow.dataset.file.FileFormat;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarBinaryVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.complex.StructVector;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.apache.arrow.vector.ipc.ArrowWriter;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Writes rows of plain Java values (String, byte[], Long, Integer, Double, Boolean, List, Map for structs)
 * to parquet (one row group per given group) and Arrow IPC files. Used by the example dataset and tests.
 */
public final class RecordWriters {
  /**
   * Batches handed to the native parquet writer are released by its threads after {@code write} returns, so
   * their allocator must outlive every write: one for the process, never closed.
   */
  private static final BufferAllocator NATIVE_WRITES = new RootAllocator();

  private RecordWriters() {}

  /**
   * Writes a parquet file whose row groups are {@code groups}, in order (Arrow's dataset writer turns each
   * batch it is fed into one row group).
   */
  public static void writeParquet(Path file, Schema schema, List<List<Object[]>> groups) throws IOException {
    byte[] stream = ipc(schema, groups, false);
    Path tmp = Files.createTempDirectory(file.toAbsolutePath().getParent(), ".parquet-write");
    try (ArrowStreamReader reader = new ArrowStreamReader(new ByteArrayInputStream(stream), NATIVE_WRITES)) {
      DatasetFileWriter.write(NATIVE_WRITES, reader, FileFormat.PARQUET, tmp.toUri().toString(), new String[0], 1,
          "part-{i}.parquet");
      Path written;
      try (Stream<Path> s = Files.list(tmp)) {
        List<Path> files = s.filter(p -> p.toString().endsWith(".parquet")).toList();
        if (files.size() != 1) {
          throw new IOException("expected one parquet file from the writer, got " + files);
        }
        written = files.get(0);
      }
      Files.move(written, file, StandardCopyOption.REPLACE_EXISTING);
    } catch (RuntimeException e) {
      throw new IOException("cannot write parquet " + file + ": " + e.getMessage(), e);
    } finally {
      try (Stream<Path> s = Files.walk(tmp)) {
        s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  /** Writes an Arrow IPC file, one record batch per group: file format, or stream format if asked. */
  public static void writeArrow(Path file, Schema schema, List<List<Object[]>> batches, boolean streamFormat)
      throws IOException {
    Files.write(file, ipc(schema, batches, !streamFormat));
  }

  private static byte[] ipc(Schema schema, List<List<Object[]>> batches, boolean fileFormat) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (BufferAllocator allocator = new RootAllocator();
        VectorSchemaRoot root = VectorSchemaRoot.create(schema, allocator);
        ArrowWriter writer = fileFormat
            ? new ArrowFileWriter(root, null, Channels.newChannel((OutputStream) bytes))
            : new ArrowStreamWriter(root, null, (OutputStream) bytes)) {
      writer.start();
      for (List<Object[]> rows : batches) {
        root.allocateNew();
        for (int r = 0; r < rows.size(); r++) {
          Object[] row = rows.get(r);
          if (row.length != schema.getFields().size()) {
            throw new IllegalArgumentException("row " + r + " has " + row.length + " values for "
                + schema.getFields().size() + " columns");
          }
          for (int c = 0; c < row.length; c++) {
            set(root.getVector(c), r, row[c]);
          }
        }
        for (FieldVector v : root.getFieldVectors()) {
          v.setValueCount(rows.size());
        }
        root.setRowCount(rows.size());
        writer.writeBatch();
      }
      writer.end();
    }
    return bytes.toByteArray();
  }

  private static void set(FieldVector v, int i, Object value) {
    if (value == null) {
      if (v instanceof StructVector s) {
        s.setNull(i);
      }
      return;
    }
    if (v instanceof VarCharVector s) {
      s.setSafe(i, ((String) value).getBytes(StandardCharsets.UTF_8));
    } else if (v instanceof VarBinaryVector b) {
      b.setSafe(i, (byte[]) value);
    } else if (v instanceof BigIntVector b) {
      b.setSafe(i, ((Number) value).longValue());
    } else if (v instanceof IntVector b) {
      b.setSafe(i, ((Number) value).intValue());
    } else if (v instanceof Float8Vector b) {
      b.setSafe(i, ((Number) value).doubleValue());
    } else if (v instanceof BitVector b) {
      b.setSafe(i, (Boolean) value ? 1 : 0);
    } else if (v instanceof ListVector l) {
      List<?> items = (List<?>) value;
      int start = l.startNewValue(i);
      FieldVector child = l.getDataVector();
      for (int k = 0; k < items.size(); k++) {
        set(child, start + k, items.get(k));
      }
      l.endValue(i, items.size());
    } else if (v instanceof StructVector s) {
      Map<?, ?> map = (Map<?, ?>) value;
      for (FieldVector child : s.getChildrenFromFields()) {
        Object cv = map.get(child.getName());
        set(child, i, cv);
        if (cv == null && child.getValueCount() <= i) {
          child.setValueCount(i + 1);
        }
      }
      s.setIndexDefined(i);
    } else {
      throw new IllegalArgumentException("unsupported column type " + v.getField());
    }
  }
}
