package ai.bakery.data.source;

import ai.bakery.data.sample.Sample;
import ai.bakery.data.sample.SampleItem;
import ai.bakery.data.source.records.Record;
import ai.bakery.data.source.records.RecordContainer;
import ai.bakery.data.source.records.RecordFiles;
import ai.bakery.data.source.records.RecordIterator;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.function.Function;

/**
 * A {@link DatasetFormat} made of a record container (parquet, JSONL, JSON, Arrow) and a {@link RowMapper}.
 * Every row either becomes a sample or one counted skip.
 */
public final class RecordFormat implements DatasetFormat {
  private final String name;
  private final Function<DatasetSource, RecordContainer> container;
  private final RowMapper mapper;
  private final boolean needsMediaRoot;

  /**
   * @param name the format's name
   * @param container the container of a source (fixed, or told by {@code data_type} / file extension)
   * @param mapper row to items
   * @param needsMediaRoot whether rows reference media files (then the data root, or the records' folder
   *     when none is set, confines them)
   */
  public RecordFormat(String name, Function<DatasetSource, RecordContainer> container, RowMapper mapper,
      boolean needsMediaRoot) {
    this.name = name;
    this.container = container;
    this.mapper = mapper;
    this.needsMediaRoot = needsMediaRoot;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public List<ShardUnit> units(DatasetSource source) throws IOException {
    return RecordFiles.units(source.name(), source.path(), container.apply(source), source.options().rowsPerUnit());
  }

  @Override
  public SampleCursor open(DatasetSource source, ShardUnit unit, long startRow, SkipCounter skips)
      throws IOException {
    RecordContainer c = container.apply(source);
    MediaResolver media = null;
    if (needsMediaRoot) {
      Path root = source.dataRoot() != null ? source.dataRoot() : defaultRoot(source.path());
      media = new MediaResolver(root, source.options().allowUrls());
    }
    SkipReason unreadable = c == RecordContainer.JSONL || c == RecordContainer.JSON
        ? SkipReason.MALFORMED_JSON : SkipReason.CORRUPT_ROW;
    return new Cursor(source, unit, RecordFiles.open(unit, c, source.options().rowsPerUnit(), startRow), skips,
        media, unreadable);
  }

  private static Path defaultRoot(Path recordsPath) {
    Path abs = recordsPath.toAbsolutePath();
    return java.nio.file.Files.isDirectory(abs) ? abs : abs.getParent();
  }

  private final class Cursor implements SampleCursor {
    private final DatasetSource source;
    private final ShardUnit unit;
    private final RecordIterator records;
    private final SkipCounter skips;
    private final MediaResolver media;
    private final SkipReason unreadable;
    private PositionedSample pending;

    Cursor(DatasetSource source, ShardUnit unit, RecordIterator records, SkipCounter skips, MediaResolver media,
        SkipReason unreadable) {
      this.source = source;
      this.unit = unit;
      this.records = records;
      this.skips = skips;
      this.media = media;
      this.unreadable = unreadable;
    }

    @Override
    public boolean hasNext() {
      while (pending == null && records.hasNext()) {
        Record r = records.next();
        String key = source.sampleKey(unit, r.row());
        if (r.error() != null) {
          skips.skip(unreadable, key, r.error());
          continue;
        }
        try {
          RowContext ctx = new RowContext(key, source, RowRandom.of(source.options().seed(), key), media);
          List<SampleItem> items = mapper.map(r.node(), ctx);
          pending = new PositionedSample(new Sample(key, source.name(), items), unit, r.row());
        } catch (SkipException e) {
          skips.skip(e.reason(), key, e.getMessage());
        } catch (RuntimeException e) {
          // A row of an unexpected shape (wrong cell type) must not end the run.
          skips.skip(unreadable, key, "unexpected record shape: " + e);
        }
      }
      return pending != null;
    }

    @Override
    public PositionedSample next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      PositionedSample s = pending;
      pending = null;
      return s;
    }

    @Override
    public void close() {
      records.close();
    }
  }
}
