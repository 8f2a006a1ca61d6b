package ai.bakery.data.live;

import ai.bakery.data.sample.Sample;
import ai.bakery.data.source.DatasetFormat;
import ai.bakery.data.source.DatasetFormats;
import ai.bakery.data.source.DatasetSource;
import ai.bakery.data.source.PositionedSample;
import ai.bakery.data.source.SampleCursor;
import ai.bakery.data.source.ShardUnit;
import ai.bakery.data.source.SkipCounter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.stream.ActorAttributes;
import org.apache.pekko.stream.javadsl.Source;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A watched folder of {@code messages} records: new {@code .jsonl} files and lines appended to them, and new
 * {@code .parquet} files once complete (their footer written and their size steady between two scans). A
 * {@link WatchService} makes new data show up within one poll; a full rescan every {@code rescan} catches what
 * it misses (network and overlay file systems). Positions: per file (its name in the folder), the byte offset
 * of a JSON line or the row of a parquet file. Files are read in name order; hidden and {@code .tmp} files are
 * ignored, so writers can write elsewhere and rename in.
 */
public final class DirectorySource implements LiveSource {
  private static final Logger LOG = LoggerFactory.getLogger(DirectorySource.class);
  private static final DatasetFormat PARQUET = DatasetFormats.messages("parquet");

  private final DatasetSource dataset;
  private final Duration poll;
  private final Duration rescan;
  private final int batch;
  private Scanner scanner;

  /**
   * @param dataset the folder ({@code path}), the media folder and read options; its name prefixes sample keys
   * @param poll how often the folder's events are checked
   * @param rescan how often the whole folder is listed again
   * @param batch most records read per poll
   */
  public DirectorySource(DatasetSource dataset, Duration poll, Duration rescan, int batch) {
    if (!Files.isDirectory(dataset.path())) {
      throw new IllegalArgumentException("live directory source " + dataset.name() + ": " + dataset.path()
          + " is not a folder");
    }
    if (batch < 1) {
      throw new IllegalArgumentException("live directory source " + dataset.name() + ": batch must be >= 1");
    }
    this.dataset = dataset;
    this.poll = poll;
    this.rescan = rescan;
    this.batch = batch;
  }

  @Override
  public String describe() {
    return "directory " + dataset.path();
  }

  @Override
  public Source<LiveRecord, ?> open(LivePosition from, SkipCounter skips, ActorSystem system) {
    if (scanner != null) {
      throw new IllegalStateException(describe() + " is already open");
    }
    scanner = new Scanner(from, skips);
    Scanner s = scanner;
    // a tick that arrives while the packer's buffer is full is dropped: nothing is read ahead of demand
    return Source.tick(Duration.ZERO, poll, "tick")
        .mapConcat(t -> s.poll())
        .withAttributes(ActorAttributes.dispatcher("pekko.stream.blocking-io-dispatcher"));
  }

  @Override
  public void close() {
    if (scanner != null) {
      scanner.close();
    }
  }

  /** The folder's read state; called by one stream stage at a time. */
  private final class Scanner {
    private final SkipCounter skips;
    private final Set<String> done;
    private final Map<String, Long> offsets = new HashMap<>();
    private final Map<String, Long> parquetSizes = new HashMap<>();
    private final Set<String> finished = new java.util.HashSet<>();
    private final TreeSet<String> dirty = new TreeSet<>();
    private final MessagesLines lines;
    private final WatchService watch;
    private long lastRescan;
    private volatile boolean closed;

    Scanner(LivePosition from, SkipCounter skips) {
      this.skips = skips;
      this.done = from.doneSet();
      this.offsets.putAll(from.offsets());
      this.lines = new MessagesLines(dataset);
      WatchService w = null;
      try {
        w = dataset.path().getFileSystem().newWatchService();
        dataset.path().register(w, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY);
      } catch (IOException | UnsupportedOperationException e) {
        LOG.warn("{}: no file events ({}); relying on rescans every {}", describe(), e.getMessage(), rescan);
      }
      this.watch = w;
    }

    List<LiveRecord> poll() {
      if (closed) {
        return List.of();
      }
      drainEvents();
      long now = System.nanoTime();
      if (lastRescan == 0 || now - lastRescan >= rescan.toNanos()) {
        lastRescan = now;
        listAll();
      }
      List<LiveRecord> out = new ArrayList<>();
      for (String name : new ArrayList<>(dirty)) {
        if (out.size() >= batch) {
          break;
        }
        try {
          boolean more = name.endsWith(".parquet") ? readParquet(name, out) : readJsonl(name, out);
          if (!more) {
            dirty.remove(name);
          }
        } catch (IOException | UncheckedIOException e) {
          LOG.warn("{}: cannot read {} yet: {}", describe(), name, e.getMessage());
          dirty.remove(name); // tried again at the next event or rescan
        }
      }
      return out;
    }

    private void drainEvents() {
      if (watch == null) {
        return;
      }
      try {
        WatchKey key;
        while ((key = watch.poll()) != null) {
          for (WatchEvent<?> e : key.pollEvents()) {
            if (e.context() instanceof Path p && wanted(p.toString())) {
              dirty.add(p.toString());
            } else if (e.kind() == StandardWatchEventKinds.OVERFLOW) {
              lastRescan = 0;
            }
          }
          key.reset();
        }
      } catch (ClosedWatchServiceException e) {
        // closing
      }
    }

    private void listAll() {
      try (Stream<Path> files = Files.list(dataset.path())) {
        files.filter(Files::isRegularFile).map(p -> p.getFileName().toString()).filter(this::wanted)
            .filter(n -> !finished.contains(n)).forEach(dirty::add);
      } catch (IOException e) {
        LOG.warn("{}: cannot list the folder: {}", describe(), e.getMessage());
      }
    }

    private boolean wanted(String name) {
      return !name.startsWith(".") && (name.endsWith(".jsonl") || name.endsWith(".parquet"));
    }

    /** Returns whether the file may have more complete lines now. */
    private boolean readJsonl(String name, List<LiveRecord> out) throws IOException {
      Path file = dataset.path().resolve(name);
      int want = batch - out.size();
      List<JsonLineReader.Line> got = JsonLineReader.read(file, offsets.getOrDefault(name, 0L), want);
      for (JsonLineReader.Line l : got) {
        offsets.put(name, l.next());
        if (done.contains(LivePosition.doneKey(name, l.offset()))) {
          continue;
        }
        String key = dataset.name() + "/" + name + "@" + l.offset();
        Sample s = lines.map(l.text(), key, skips);
        if (s != null) {
          out.add(new LiveRecord(s, name, l.offset(), l.next()));
        }
      }
      return got.size() == want;
    }

    /** Reads a complete parquet file from its saved row; returns whether rows are left for the next poll. */
    private boolean readParquet(String name, List<LiveRecord> out) throws IOException {
      Path file = dataset.path().resolve(name);
      long size = Files.size(file);
      Long seen = parquetSizes.put(name, size);
      if (seen == null || seen != size || !endsWithMagic(file, size)) {
        return true; // still being written: look again next poll
      }
      DatasetSource one = new DatasetSource(dataset.name(), file, dataset.dataRoot(), dataset.options());
      long row = offsets.getOrDefault(name, 0L);
      long base = 0;
      for (ShardUnit unit : PARQUET.units(one)) {
        if (row >= base + unit.rowCount()) {
          base += unit.rowCount();
          continue;
        }
        try (SampleCursor c = PARQUET.open(one, unit, row - base, skips)) {
          while (c.hasNext() && out.size() < batch) {
            PositionedSample ps = c.next();
            long r = base + ps.row();
            offsets.put(name, r + 1);
            row = r + 1;
            if (!done.contains(LivePosition.doneKey(name, r))) {
              out.add(new LiveRecord(ps.sample(), name, r, r + 1));
            }
          }
          if (out.size() >= batch && c.hasNext()) {
            return true;
          }
        }
        base += unit.rowCount();
        row = Math.max(row, base); // rows skipped as bad at the unit's end are passed too
        offsets.put(name, row);
      }
      finished.add(name);
      return false;
    }

    private boolean endsWithMagic(Path file, long size) throws IOException {
      if (size < 12) {
        return false;
      }
      try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
        ByteBuffer b = ByteBuffer.allocate(4);
        ch.read(b, size - 4);
        return new String(b.array(), java.nio.charset.StandardCharsets.US_ASCII).equals("PAR1");
      }
    }

    void close() {
      closed = true;
      if (watch != null) {
        try {
          watch.close();
        } catch (IOException e) {
          LOG.debug("closing the watch service", e);
        }
      }
    }
  }
}
