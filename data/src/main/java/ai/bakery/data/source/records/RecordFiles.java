package ai.bakery.data.source.records;

import ai.bakery.data.source.ShardUnit;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * Lists the {@link ShardUnit}s of record files and opens one unit as {@link Record}s. Units: a parquet row
 * group; an Arrow IPC record batch; a run of {@code rowsPerUnit} lines (JSONL) or array elements (JSON), so
 * one big JSONL file still spreads over many ranks and workers. The unit's {@code rowGroup} is the row group,
 * batch or run index.
 */
public final class RecordFiles {
  static final ObjectMapper JSON = new ObjectMapper();

  private RecordFiles() {}

  /**
   * The files of a dataset path: the file itself, or a directory's files with the container's extension,
   * sorted by name.
   */
  public static List<Path> files(Path path, RecordContainer container) throws IOException {
    if (Files.isDirectory(path)) {
      String ext = container.extension();
      try (Stream<Path> s = Files.list(path)) {
        List<Path> out = s.filter(p -> p.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(ext))
            .filter(Files::isRegularFile).sorted().toList();
        if (out.isEmpty()) {
          throw new IOException("no " + ext + " files in dataset directory " + path);
        }
        return out;
      }
    }
    if (!Files.exists(path)) {
      throw new NoSuchFileException(path.toString(), null, "dataset path does not exist");
    }
    return List.of(path);
  }

  /** All units of all files, in file order then unit order. */
  public static List<ShardUnit> units(String dataset, Path path, RecordContainer container, int rowsPerUnit)
      throws IOException {
    if (rowsPerUnit < 1) {
      throw new IllegalArgumentException("rowsPerUnit must be >= 1, got " + rowsPerUnit);
    }
    List<ShardUnit> units = new ArrayList<>();
    for (Path file : files(path, container)) {
      String name = file.toString();
      switch (container) {
        case PARQUET -> {
          long[] rows = ParquetFooter.rowGroupRows(file);
          for (int rg = 0; rg < rows.length; rg++) {
            units.add(new ShardUnit(dataset, name, rg, rows[rg]));
          }
        }
        case ARROW -> {
          long[] rows = ArrowIpcRecords.batchRows(file);
          for (int b = 0; b < rows.length; b++) {
            units.add(new ShardUnit(dataset, name, b, rows[b]));
          }
        }
        case JSONL, JSON -> {
          long total = container == RecordContainer.JSONL ? countLines(file) : countJsonArray(file);
          for (long start = 0, k = 0; start < total; start += rowsPerUnit, k++) {
            units.add(new ShardUnit(dataset, name, Math.toIntExact(k), Math.min(rowsPerUnit, total - start)));
          }
        }
      }
    }
    return units;
  }

  /**
   * Opens a unit listed by {@link #units} with the same {@code rowsPerUnit}.
   *
   * @throws IOException naming the file when it cannot be opened at all
   */
  public static RecordIterator open(ShardUnit unit, RecordContainer container, int rowsPerUnit, long startRow)
      throws IOException {
    Path file = Path.of(unit.file());
    long start = Math.max(0, startRow);
    return switch (container) {
      case PARQUET -> ParquetRecords.open(file, unit.rowGroup(), start);
      case ARROW -> ArrowIpcRecords.open(file, unit.rowGroup(), start);
      case JSONL -> jsonl(file, (long) unit.rowGroup() * rowsPerUnit, unit.rowCount(), start);
      case JSON -> jsonArray(file, (long) unit.rowGroup() * rowsPerUnit, unit.rowCount(), start);
    };
  }

  static long countLines(Path file) throws IOException {
    try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      long n = 0;
      while (r.readLine() != null) {
        n++;
      }
      return n;
    }
  }

  static long countJsonArray(Path file) throws IOException {
    try (JsonParser p = JSON.getFactory().createParser(file.toFile())) {
      if (p.nextToken() != JsonToken.START_ARRAY) {
        throw new IOException("a json dataset must be one array of records: " + file);
      }
      long n = 0;
      while (p.nextToken() != JsonToken.END_ARRAY) {
        if (p.currentToken() == null) {
          throw new IOException("unterminated json array in " + file);
        }
        p.skipChildren();
        n++;
      }
      return n;
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IOException("malformed json dataset " + file + ": " + e.getOriginalMessage(), e);
    }
  }

  private static RecordIterator jsonl(Path file, long firstLine, long count, long startRow) throws IOException {
    BufferedReader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8);
    try {
      for (long i = 0; i < firstLine + startRow; i++) {
        if (reader.readLine() == null) {
          break;
        }
      }
    } catch (IOException e) {
      reader.close();
      throw e;
    }
    return new TextRows(reader, file, startRow, count) {
      @Override
      Record read(long r) throws IOException {
        String line = reader.readLine();
        if (line == null) {
          end();
          return Record.bad(r, "file ended early (it changed since its units were listed)");
        }
        if (line.isBlank()) {
          return Record.bad(r, "blank line");
        }
        try {
          return Record.ok(r, JSON.readTree(line));
        } catch (IOException e) {
          return Record.bad(r, "malformed json: " + firstLineOf(e.getMessage()));
        }
      }
    };
  }

  private static RecordIterator jsonArray(Path file, long firstElement, long count, long startRow)
      throws IOException {
    JsonParser p = JSON.getFactory().createParser(file.toFile());
    try {
      if (p.nextToken() != JsonToken.START_ARRAY) {
        throw new IOException("a json dataset must be one array of records: " + file);
      }
      for (long i = 0; i < firstElement + startRow; i++) {
        if (p.nextToken() == JsonToken.END_ARRAY) {
          break;
        }
        p.skipChildren();
      }
    } catch (IOException e) {
      p.close();
      throw e;
    }
    return new TextRows(p, file, startRow, count) {
      @Override
      Record read(long r) {
        try {
          JsonToken t = p.nextToken();
          if (t == null || t == JsonToken.END_ARRAY) {
            end();
            return Record.bad(r, "array ended early (the file changed since its units were listed)");
          }
          return Record.ok(r, JSON.readTree(p));
        } catch (IOException e) {
          end(); // the parser cannot resynchronise inside one array
          return Record.bad(r, "malformed json: " + firstLineOf(e.getMessage()));
        }
      }
    };
  }

  /** Rows {@code [startRow, count)} read one at a time from an open text handle, closed with the iterator. */
  private abstract static class TextRows implements RecordIterator {
    private final java.io.Closeable handle;
    private final Path file;
    private long row;
    private long count;

    TextRows(java.io.Closeable handle, Path file, long startRow, long count) {
      this.handle = handle;
      this.file = file;
      this.row = startRow;
      this.count = count;
    }

    abstract Record read(long row) throws IOException;

    /** No more rows: the source ended or cannot go on. */
    void end() {
      count = row;
    }

    @Override
    public boolean hasNext() {
      return row < count;
    }

    @Override
    public Record next() {
      long r = row++;
      try {
        return read(r);
      } catch (IOException e) {
        throw new UncheckedIOException("reading " + file, e);
      }
    }

    @Override
    public void close() {
      try {
        handle.close();
      } catch (IOException ignored) {
        // read-only handle: nothing to lose
      }
    }
  }

  static String firstLineOf(String s) {
    if (s == null) {
      return "";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }
}
