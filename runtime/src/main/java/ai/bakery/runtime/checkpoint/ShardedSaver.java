package ai.bakery.runtime.checkpoint;

import ai.bakery.model.io.Dtype;
import ai.bakery.model.tensor.Torch;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One rank's asynchronous writer of sharded checkpoints. {@link #snapshot} copies the rank's slices into host
 * staging buffers (the only time the training step waits) and hands them to a background thread, which writes
 * {@code <step>/rank-0000r-of-0000w.safetensors}, fsyncs and renames it, then writes the rank's
 * {@link RankManifest} the same way. The rank that is given the step-wide files commits the step: it waits for
 * every rank's manifest and writes {@code COMPLETE} ({@link ShardedCheckpoint#commit}), then applies retention.
 *
 * <p>Memory is bounded by {@code buffers} staging sets (one rank shard each, reused from save to save): a snapshot
 * taken while every set is still being written waits for one to free, and that wait counts as stall.
 */
public final class ShardedSaver implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ShardedSaver.class);
  /** Bytes handed to one write call (and one CRC update). */
  private static final int WINDOW = 1 << 24;
  private static final com.fasterxml.jackson.databind.ObjectMapper COMPACT =
      new com.fasterxml.jackson.databind.ObjectMapper();

  public static final String MODEL = CheckpointManager.MODEL;
  public static final String EMA = CheckpointManager.EMA;
  public static final String OPTIMIZER = CheckpointManager.OPTIMIZER;

  /**
   * @param root the checkpoint folder (step folders go under it)
   * @param rank this rank
   * @param world the world size
   * @param buffers staging sets (1: a save waits for the previous write; 2: double-buffered)
   * @param keepLast retention applied by the committing rank (0 keeps all)
   * @param commitTimeout how long the committing rank waits for the other ranks' parts
   */
  public record Config(Path root, int rank, int world, int buffers, int keepLast, Duration commitTimeout) {
    public Config {
      if (world < 1 || rank < 0 || rank >= world) {
        throw new IllegalArgumentException("checkpoint: rank " + rank + " outside a world of " + world);
      }
      if (buffers < 1) {
        throw new IllegalArgumentException("checkpoint: buffers must be >= 1, got " + buffers);
      }
      if (keepLast < 0) {
        throw new IllegalArgumentException("checkpoint: keep_last must be >= 0, got " + keepLast);
      }
    }

    public static Config of(Path root, int rank, int world) {
      return new Config(root, rank, world, 1, 0, Duration.ofMinutes(10));
    }

    public Config withKeepLast(int keep) {
      return new Config(root, rank, world, buffers, keep, commitTimeout);
    }

    public Config withBuffers(int n) {
      return new Config(root, rank, world, n, keepLast, commitTimeout);
    }
  }

  /**
   * What one rank saves at one step.
   *
   * @param step the optimizer step just taken
   * @param groups group name ({@link #MODEL}, {@link #EMA}, {@link #OPTIMIZER}, ...) -> this rank's slices
   * @param rankStates this rank's own JSON states (e.g. {@code data_status}), by name
   * @param stepFiles step-wide JSON files ({@code train_state.json}, {@code scheduler.json}, {@code
   *     optimizer.json}, {@code data_status.json}) when this rank commits the step; null on the other ranks
   * @param saveId names this save attempt, the same on every rank (e.g. the group generation and step): the
   *     committer only commits parts carrying it, never a part an earlier attempt at the same step left behind
   */
  public record Request(long step, Map<String, List<ShardedTensor>> groups, Map<String, String> rankStates,
      Map<String, String> stepFiles, String saveId) {
    public Request {
      saveId = saveId == null ? "" : saveId;
      if (step < 0) {
        throw new IllegalArgumentException("checkpoint step must be >= 0, got " + step);
      }
      groups = new LinkedHashMap<>(groups);
      rankStates = rankStates == null ? Map.of() : new TreeMap<>(rankStates);
      stepFiles = stepFiles == null ? null : new TreeMap<>(stepFiles);
      for (String g : groups.keySet()) {
        if (g.isEmpty() || g.contains("/")) {
          throw new IllegalArgumentException("bad checkpoint group name '" + g + "'");
        }
      }
    }

    /** A request of no particular save attempt (in-process saves, tests). */
    public Request(long step, Map<String, List<ShardedTensor>> groups, Map<String, String> rankStates,
        Map<String, String> stepFiles) {
      this(step, groups, rankStates, stepFiles, "");
    }

    /** The usual three groups; {@code ema} may be null. */
    public static Request of(long step, List<ShardedTensor> model, List<ShardedTensor> ema,
        List<ShardedTensor> optimizer, Map<String, String> rankStates, Map<String, String> stepFiles) {
      Map<String, List<ShardedTensor>> g = new LinkedHashMap<>();
      g.put(MODEL, model);
      if (ema != null) {
        g.put(EMA, ema);
      }
      if (optimizer != null) {
        g.put(OPTIMIZER, optimizer);
      }
      return new Request(step, g, rankStates, stepFiles, "");
    }

    /** The same request tagged with a save attempt id. */
    public Request withSaveId(String id) {
      return new Request(step, groups, rankStates, stepFiles, id);
    }
  }

  /**
   * One save in flight.
   *
   * @param step the step
   * @param stallNanos how long {@link #snapshot} blocked the caller (waiting for a free buffer + copying)
   * @param copyNanos of which copying the slices to host memory
   * @param bytes the rank's slice bytes
   * @param done completes when this rank's part is durable (and, on the committing rank, the step committed)
   */
  public record Ticket(long step, long stallNanos, long copyNanos, long bytes, CompletableFuture<Written> done) {}

  /**
   * @param stepDir the step folder
   * @param writeNanos from the end of the snapshot to this rank's manifest being durable
   * @param totalNanos from the start of the snapshot to {@code done} (commit included on the committer)
   * @param committed whether this rank wrote {@code COMPLETE}
   */
  public record Written(Path stepDir, long writeNanos, long totalNanos, boolean committed) {}

  private final Config config;
  private final BlockingQueue<Staging> free;
  private final List<Staging> all = new ArrayList<>();
  private final ExecutorService writer;
  private boolean closed;

  public ShardedSaver(Config config) {
    Torch.init();
    this.config = config;
    this.free = new ArrayBlockingQueue<>(config.buffers());
    for (int i = 0; i < config.buffers(); i++) {
      Staging s = new Staging();
      all.add(s);
      free.add(s);
    }
    this.writer = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "checkpoint-writer-r" + config.rank());
      t.setDaemon(true);
      return t;
    });
  }

  public Config config() {
    return config;
  }

  /**
   * Copies the request's slices to host memory and queues the write; returns once the copy is done (the caller
   * may then change its tensors). Blocks while every staging set is still being written.
   */
  public synchronized Ticket snapshot(Request request) {
    if (closed) {
      throw new IllegalStateException("checkpoint saver of rank " + config.rank() + " is closed");
    }
    long t0 = System.nanoTime();
    Staging staging;
    try {
      staging = free.take();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CheckpointException("interrupted while waiting for the previous checkpoint write", e);
    }
    long t1 = System.nanoTime();
    try {
      staging.fill(request);
    } catch (RuntimeException e) {
      free.add(staging);
      throw e;
    }
    long t2 = System.nanoTime();
    CompletableFuture<Written> done = new CompletableFuture<>();
    boolean[] released = {false};
    writer.execute(() -> {
      try {
        Path dir = write(request, staging);
        long written = System.nanoTime();
        released[0] = true;
        free.add(staging);
        boolean committed = false;
        if (request.stepFiles() != null) {
          awaitRanks(dir, request.step(), request.saveId());
          ShardedCheckpoint.commit(dir, request.step(), config.world(), request.saveId(), request.stepFiles());
          committed = true;
          CheckpointRetention.apply(config.root(), config.keepLast());
        }
        long end = System.nanoTime();
        done.complete(new Written(dir, written - t2, end - t0, committed));
      } catch (Throwable e) {
        if (!released[0]) {
          free.add(staging);
        }
        LOG.error("Checkpoint of step {} (rank {} of {}) failed: {}", request.step(), config.rank(), config.world(),
            e.getMessage(), e);
        done.completeExceptionally(e);
      }
    });
    return new Ticket(request.step(), t2 - t0, t2 - t1, staging.bytes, done);
  }

  /** Waits for every queued write; then frees the staging memory. Failed saves were logged and their tickets failed. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    writer.shutdown();
    try {
      if (!writer.awaitTermination(1, TimeUnit.HOURS)) {
        LOG.error("Checkpoint writer of rank {} did not finish within an hour.", config.rank());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      writer.shutdownNow();
    }
    all.forEach(Staging::release);
  }

  // ------------------------------------------------------------------------------------------------ writing

  private Path write(Request request, Staging staging) throws IOException {
    Path dir = config.root().resolve(CheckpointManager.stepName(request.step()));
    Files.createDirectories(dir);
    Path marker = dir.resolve(CompleteMarker.FILE);
    if (Files.exists(marker)) {
      // Saving a step again (after a rollback): the old commit no longer describes what is about to be written.
      LOG.warn("{} is being saved again: its old {} is removed first.", dir, CompleteMarker.FILE);
      Files.deleteIfExists(marker);
      ShardFiles.fsyncDir(dir);
    }
    String partName = ShardFiles.partName(config.rank(), config.world());
    Path part = dir.resolve(partName);
    Path tmp = dir.resolve(partName + ".tmp");
    List<RankManifest.Slice> slices = new ArrayList<>();
    CRC32C crc = new CRC32C();
    long size;
    try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING)) {
      byte[] header = header(request, staging);
      long dataStart = header.length;
      long offset = 0;
      for (Staged s : staging.items) {
        long n = s.range.length() * s.dtype.size();
        slices.add(new RankManifest.Slice(s.key, s.dtype.name(), s.shape, s.range.start(), s.range.end(),
            dataStart + offset));
        offset += n;
      }
      writeAll(out, ByteBuffer.wrap(header), crc);
      for (Staged s : staging.items) {
        if (s.buffer == null) {
          continue;
        }
        BytePointer base = new BytePointer(s.buffer.data_ptr());
        long n = s.range.length() * s.dtype.size();
        for (long off = 0; off < n; off += WINDOW) {
          int len = (int) Math.min(WINDOW, n - off);
          BytePointer p = new BytePointer(base);
          p.position(off).limit(off + len);
          writeAll(out, p.asByteBuffer(), crc);
        }
      }
      out.force(true);
      size = out.size();
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(tmp);
      throw e;
    }
    Files.move(tmp, part, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    Map<String, JsonNode> states = new TreeMap<>();
    for (Map.Entry<String, String> e : request.rankStates().entrySet()) {
      states.put(e.getKey(), ShardFiles.JSON.readTree(e.getValue()));
    }
    RankManifest m = new RankManifest(RankManifest.FORMAT, request.step(), config.rank(), config.world(), partName,
        size, ShardFiles.hex(crc), slices, states, request.saveId());
    ShardFiles.writeDurably(dir.resolve(ShardFiles.manifestName(config.rank(), config.world())),
        ShardFiles.JSON.writeValueAsBytes(m));
    return dir;
  }

  /** A safetensors header of 1-D slices (the part stays readable by any safetensors tool), padded to 8 bytes. */
  private byte[] header(Request request, Staging staging) throws IOException {
    Map<String, Object> h = new LinkedHashMap<>();
    Map<String, String> meta = new TreeMap<>();
    meta.put("format", "pt");
    meta.put("bakery", RankManifest.FORMAT);
    meta.put("step", Long.toString(request.step()));
    meta.put("rank", Integer.toString(config.rank()));
    meta.put("world", Integer.toString(config.world()));
    h.put("__metadata__", meta);
    long offset = 0;
    for (Staged s : staging.items) {
      long n = s.range.length() * s.dtype.size();
      Map<String, Object> e = new LinkedHashMap<>();
      e.put("dtype", s.dtype.name());
      e.put("shape", new long[] {s.range.length()});
      e.put("data_offsets", new long[] {offset, offset + n});
      h.put(s.key, e);
      offset += n;
    }
    byte[] json = COMPACT.writeValueAsString(h).getBytes(StandardCharsets.UTF_8);
    int padded = (json.length + 7) / 8 * 8;
    ByteBuffer b = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(padded).put(json);
    while (b.hasRemaining()) {
      b.put((byte) ' ');
    }
    return b.array();
  }

  private static void writeAll(FileChannel out, ByteBuffer b, CRC32C crc) throws IOException {
    crc.update(b.duplicate());
    while (b.hasRemaining()) {
      out.write(b);
    }
  }

  /** Waits until every rank's manifest of this save attempt is in place (a stale one is waited past). */
  private void awaitRanks(Path dir, long step, String saveId) throws InterruptedException {
    long deadline = System.nanoTime() + config.commitTimeout().toNanos();
    for (int r = 0; r < config.world(); r++) {
      Path m = dir.resolve(ShardFiles.manifestName(r, config.world()));
      while (!isPartOf(m, step, saveId)) {
        if (System.nanoTime() > deadline) {
          throw new CheckpointException(dir + ": rank " + r + " did not write its part of step " + step + " within "
              + config.commitTimeout().toSeconds() + " s; the step stays uncommitted");
        }
        Thread.sleep(5);
      }
    }
  }

  private static boolean isPartOf(Path manifest, long step, String saveId) {
    if (!Files.isRegularFile(manifest)) {
      return false;
    }
    try {
      RankManifest m = ShardFiles.JSON.readValue(manifest.toFile(), RankManifest.class);
      return m.step() == step && saveId.equals(m.saveId() == null ? "" : m.saveId());
    } catch (IOException e) {
      return false; // being replaced right now
    }
  }

  // ------------------------------------------------------------------------------------------------ staging

  /** One slice copied to host memory. */
  private static final class Staged {
    String key;
    Dtype dtype;
    long[] shape;
    ai.bakery.runtime.parallel.ShardRange range;
    Tensor buffer; // null for an empty range
  }

  /** A reusable set of host buffers holding one snapshot of this rank's slices. */
  private static final class Staging {
    final List<Staged> items = new ArrayList<>();
    long bytes;

    void fill(Request request) {
      List<Staged> old = new ArrayList<>(items);
      items.clear();
      bytes = 0;
      int reuse = 0;
      try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
        for (Map.Entry<String, List<ShardedTensor>> g : request.groups().entrySet()) {
          for (ShardedTensor t : g.getValue()) {
            Tensor src = Torch.view(t.source());
            Dtype dtype = ShardFiles.dtypeOf(src.scalar_type());
            long n = t.range().length();
            Staged s = reuse < old.size() ? old.get(reuse) : new Staged();
            reuse++;
            if (s.buffer != null && (s.buffer.numel() != n || s.dtype != dtype)) {
              s.buffer.releaseReference();
              s.buffer = null;
            }
            if (s.buffer == null && n > 0) {
              try (TensorOptions opts = new TensorOptions(ShardFiles.scalarType(dtype))) {
                s.buffer = torch.empty(new long[] {n}, opts, null);
              }
              s.buffer.retainReference(); // outlives this scope; released in release()
            }
            s.key = g.getKey() + "/" + t.name();
            s.dtype = dtype;
            s.shape = t.shape();
            s.range = t.range();
            if (n > 0) {
              s.buffer.copy_(src.reshape(-1).narrow(0, t.sourceOffset(), n));
            }
            items.add(s);
            bytes += n * dtype.size();
          }
        }
      }
      for (int i = reuse; i < old.size(); i++) {
        if (old.get(i).buffer != null) {
          old.get(i).buffer.releaseReference();
        }
      }
    }

    void release() {
      for (Staged s : items) {
        if (s.buffer != null) {
          s.buffer.releaseReference();
          s.buffer = null;
        }
      }
      items.clear();
    }
  }
}
