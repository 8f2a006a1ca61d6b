package ai.bakery.runtime.checkpoint;

import ai.bakery.model.io.Dtype;
import ai.bakery.model.io.Unmapper;
import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.parallel.ShardRange;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.lang.ref.Reference;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads a committed sharded checkpoint into any layout: a rank {@code r'} of a world {@code w'} asks for
 * {@code ShardRange.of(numel, r', w')} of each tensor and gets it from the overlapping slices of the saved ranks'
 * part files, memory-mapped window by window, touching only the overlapping bytes. A world of 1 gets full tensors.
 *
 * <p>Opening checks the {@code COMPLETE} marker, every file's size and (unless told the folder was just verified)
 * every part's CRC32C; the reads themselves then touch only the overlapping bytes.
 */
public final class ShardedReader implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ShardedReader.class);
  /** Largest single mapping; tests lower it to exercise windowing. */
  static long mapWindow = 1L << 30;

  /** Where one saved rank's slice of one tensor lies. */
  private record Piece(int rank, ShardRange range, long offset) {}

  private record Layout(Dtype dtype, long[] shape, List<Piece> pieces) {}

  private final Path dir;
  private final CompleteMarker marker;
  private final List<RankManifest> ranks;
  private final Map<String, Layout> layout = new LinkedHashMap<>();
  private final FileChannel[] channels;
  private long bytesRead;

  private ShardedReader(Path dir, CompleteMarker marker, List<RankManifest> ranks) {
    this.dir = dir;
    this.marker = marker;
    this.ranks = ranks;
    this.channels = new FileChannel[ranks.size()];
    for (RankManifest m : ranks) {
      for (RankManifest.Slice s : m.tensors()) {
        Dtype dtype = ShardFiles.dtype(s.dtype(), dir.resolve(ShardFiles.manifestName(m.rank(), m.world())));
        Layout l = layout.computeIfAbsent(s.key(), k -> new Layout(dtype, s.shape(), new ArrayList<>()));
        if (l.dtype != dtype || !Arrays.equals(l.shape, s.shape())) {
          throw new CheckpointException(dir + ": rank " + m.rank() + " stores " + s.key() + " as " + dtype + " "
              + Arrays.toString(s.shape()) + ", rank " + l.pieces.get(0).rank + " as " + l.dtype + " "
              + Arrays.toString(l.shape));
        }
        if (s.end() > s.start()) {
          l.pieces.add(new Piece(m.rank(), s.range(), s.offset()));
        }
      }
    }
    for (Map.Entry<String, Layout> e : layout.entrySet()) {
      long numel = ShardedTensor.numel(e.getValue().shape);
      long covered = 0;
      List<Piece> pieces = new ArrayList<>(e.getValue().pieces);
      pieces.sort((a, b) -> Long.compare(a.range.start(), b.range.start()));
      for (Piece p : pieces) {
        if (p.range.start() != covered) {
          break;
        }
        covered = p.range.end();
      }
      if (covered != numel) {
        throw new CheckpointException(dir + ": the saved slices of " + e.getKey() + " do not cover its " + numel
            + " elements exactly (a gap or an overlap at element " + covered + ")");
      }
    }
  }

  /**
   * Opens a committed step folder after checking every file's checksum; fails naming the reason when it is not
   * loadable.
   */
  public static ShardedReader open(Path stepDir) {
    return open(stepDir, true);
  }

  /**
   * As {@link #open(Path)}; without {@code verifyData} only sizes and the small files' checksums are checked (for a
   * folder just chosen by {@link CheckpointManager#latestComplete}, which checked them all).
   */
  public static ShardedReader open(Path stepDir, boolean verifyData) {
    Optional<String> problem = ShardedCheckpoint.problem(stepDir, verifyData);
    if (problem.isPresent()) {
      throw new CheckpointException(stepDir + " is not a loadable sharded checkpoint: " + problem.get());
    }
    try {
      CompleteMarker marker = ShardFiles.JSON.readValue(stepDir.resolve(CompleteMarker.FILE).toFile(),
          CompleteMarker.class);
      List<RankManifest> ranks = new ArrayList<>();
      for (int r = 0; r < marker.world(); r++) {
        ranks.add(ShardFiles.JSON.readValue(stepDir.resolve(ShardFiles.manifestName(r, marker.world())).toFile(),
            RankManifest.class));
      }
      return new ShardedReader(stepDir, marker, ranks);
    } catch (IOException e) {
      throw new CheckpointException(stepDir + ": cannot read its manifests: " + e.getMessage(), e);
    }
  }

  public Path dir() {
    return dir;
  }

  public long step() {
    return marker.step();
  }

  /** The world size the checkpoint was saved with. */
  public int savedWorld() {
    return marker.world();
  }

  /** Group names saved ({@code model}, {@code ema}, {@code optimizer}, ...). */
  public Set<String> groups() {
    Set<String> out = new TreeSet<>();
    for (String k : layout.keySet()) {
      out.add(k.substring(0, k.indexOf('/')));
    }
    return out;
  }

  /** Tensor names within {@code group}, in save order. */
  public List<String> names(String group) {
    List<String> out = new ArrayList<>();
    String prefix = group + "/";
    for (String k : layout.keySet()) {
      if (k.startsWith(prefix)) {
        out.add(k.substring(prefix.length()));
      }
    }
    return out;
  }

  public boolean has(String group, String name) {
    return layout.containsKey(group + "/" + name);
  }

  public long[] shape(String group, String name) {
    return layout(group, name).shape.clone();
  }

  public Dtype dtype(String group, String name) {
    return layout(group, name).dtype;
  }

  /** Bytes copied out of part files so far (the overlap bytes only). */
  public long bytesRead() {
    return bytesRead;
  }

  /** The JSON states a saved rank recorded (data position, RNG...). */
  public Map<String, JsonNode> rankStates(int savedRank) {
    return Collections.unmodifiableMap(ranks.get(savedRank).states());
  }

  /** A step-wide JSON file of this step ({@code train_state.json}, ...). */
  public Optional<String> stepFile(String name) {
    return marker.files().containsKey(name) ? ShardedCheckpoint.stepFile(dir, name) : Optional.empty();
  }

  private Layout layout(String group, String name) {
    Layout l = layout.get(group + "/" + name);
    if (l == null) {
      throw new CheckpointException(dir + ": no tensor " + group + "/" + name + " in this checkpoint");
    }
    return l;
  }

  /** Rank {@code rank} of {@code world}'s flat slice of a tensor, in the stored type. */
  public NDArray readSlice(String group, String name, int rank, int world, NDManager manager) {
    Layout l = layout(group, name);
    ShardRange want = ShardRange.of(ShardedTensor.numel(l.shape), rank, world);
    return read(group, name, want, new long[] {want.length()}, manager);
  }

  /** The whole tensor in its saved shape and type. */
  public NDArray readFull(String group, String name, NDManager manager) {
    Layout l = layout(group, name);
    return read(group, name, new ShardRange(0, ShardedTensor.numel(l.shape)), l.shape, manager);
  }

  private NDArray read(String group, String name, ShardRange range, long[] shape, NDManager manager) {
    Torch.init();
    Tensor out;
    try (TensorOptions opts = new TensorOptions(ShardFiles.scalarType(layout(group, name).dtype))) {
      out = torch.empty(shape, opts, null);
    }
    try (Tensor flat = out.view(-1)) {
      fill(group, name, range, flat);
    }
    return Torch.adopt(out, manager);
  }

  /**
   * Copies flat elements {@code range} of a tensor into {@code destination} (contiguous, {@code range.length()}
   * elements, any shape, type or device: the copy converts).
   */
  public void readInto(String group, String name, ShardRange range, NDArray destination) {
    if (destination.getShape().size() != range.length()) {
      throw new CheckpointException(group + "/" + name + ": range [" + range.start() + ", " + range.end()
          + ") has " + range.length() + " elements, the destination " + destination.getShape());
    }
    try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
      Tensor dst = Torch.view(destination);
      if (!dst.is_contiguous()) {
        throw new CheckpointException(group + "/" + name + ": the destination is not contiguous");
      }
      fill(group, name, range, dst.view(-1));
    }
  }

  private void fill(String group, String name, ShardRange range, Tensor flat) {
    Layout l = layout(group, name);
    long numel = ShardedTensor.numel(l.shape);
    if (range.end() > numel) {
      throw new CheckpointException(group + "/" + name + ": range end " + range.end() + " exceeds its " + numel
          + " elements");
    }
    int esize = l.dtype.size();
    try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard();
        TensorOptions stored = new TensorOptions(ShardFiles.scalarType(l.dtype))) {
      for (Piece p : l.pieces) {
        ShardRange ov = range.intersect(p.range);
        if (ov.length() == 0) {
          continue;
        }
        long perWindow = Math.max(1, mapWindow / esize);
        for (long e = ov.start(); e < ov.end(); e += perWindow) {
          long n = Math.min(perWindow, ov.end() - e);
          long pos = p.offset + (e - p.range.start()) * esize;
          MappedByteBuffer window = map(p.rank, pos, n * esize);
          try (Pointer ptr = new Pointer(window);
              Tensor blob = torch.from_blob(ptr, new long[] {n}, stored)) {
            flat.narrow(0, e - range.start(), n).copy_(blob);
          } finally {
            Reference.reachabilityFence(window);
            Unmapper.unmap(window);
          }
          bytesRead += n * esize;
        }
      }
    }
  }

  private MappedByteBuffer map(int rank, long pos, long size) {
    Path file = dir.resolve(ranks.get(rank).file());
    try {
      if (channels[rank] == null) {
        channels[rank] = FileChannel.open(file, StandardOpenOption.READ);
      }
      return channels[rank].map(FileChannel.MapMode.READ_ONLY, pos, size);
    } catch (IOException e) {
      throw new CheckpointException(file + ": cannot map [" + pos + ", " + (pos + size) + "): " + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    for (int i = 0; i < channels.length; i++) {
      if (channels[i] != null) {
        try {
          channels[i].close();
        } catch (IOException e) {
          LOG.warn("Closing {} failed: {}", ranks.get(i).file(), e.getMessage());
        }
        channels[i] = null;
      }
    }
  }
}
