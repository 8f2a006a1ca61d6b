package ai.bakery.model.io;

import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * One {@code .safetensors} file, memory-mapped on demand: opening reads and validates only the header; a
 * tensor (or a row range of one) is mapped, converted and copied when asked for, so a process can take its
 * shard of a model far larger than its memory.
 *
 * <p>Layout: 8-byte little-endian header length N, N bytes of JSON ({@code name -> {dtype, shape,
 * data_offsets}} plus optional {@code __metadata__} of strings), then the data region the offsets index.
 * Every offset, size and overlap is checked when the file is opened, before any tensor memory is allocated.
 */
public final class SafetensorsReader implements TensorFile {
  /** The format's own bound on header size; a larger value means a corrupt or hostile file. */
  public static final long MAX_HEADER_BYTES = 100L << 20;

  /** Largest single mapping; larger tensors are copied in several windows. Tests lower it to exercise that. */
  static long mapWindow = 1L << 30;

  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path file;
  private final FileChannel channel;
  private final long dataStart;
  private final Map<String, String> metadata;
  private final Map<String, Entry> entries;
  private final java.util.concurrent.atomic.AtomicLong bytesRead = new java.util.concurrent.atomic.AtomicLong();

  private SafetensorsReader(Path file, FileChannel channel, long dataStart, Map<String, String> metadata,
      Map<String, Entry> entries) {
    this.file = file;
    this.channel = channel;
    this.dataStart = dataStart;
    this.metadata = metadata;
    this.entries = entries;
  }

  public static SafetensorsReader open(Path file) {
    FileChannel ch;
    try {
      ch = FileChannel.open(file, StandardOpenOption.READ);
    } catch (IOException e) {
      throw new SafetensorsException(file + ": cannot open: " + e.getMessage(), e);
    }
    try {
      long fileSize = ch.size();
      if (fileSize < 8) {
        throw new SafetensorsException(file + ": " + fileSize + " bytes is too short for a safetensors header");
      }
      ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      readFully(ch, len, 0);
      long headerLen = len.getLong(0);
      if (headerLen < 2 || headerLen > MAX_HEADER_BYTES) {
        throw new SafetensorsException(file + ": header length " + Long.toUnsignedString(headerLen)
            + " is outside [2, " + MAX_HEADER_BYTES + "]");
      }
      if (8 + headerLen > fileSize) {
        throw new SafetensorsException(file + ": header length " + headerLen + " exceeds the file (" + fileSize
            + " bytes)");
      }
      ByteBuffer header = ByteBuffer.allocate((int) headerLen);
      readFully(ch, header, 8);
      long dataStart = 8 + headerLen;
      Parsed parsed = parseHeader(file, header.array(), fileSize - dataStart);
      SafetensorsReader r = new SafetensorsReader(file, ch, dataStart, parsed.metadata, new LinkedHashMap<>());
      for (Info info : parsed.infos) {
        r.entries.put(info.name, r.new Entry(info));
      }
      return r;
    } catch (RuntimeException | IOException e) {
      try {
        ch.close();
      } catch (IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      if (e instanceof SafetensorsException se) {
        throw se;
      }
      throw new SafetensorsException(file + ": cannot read header: " + e.getMessage(), e);
    }
  }

  public Path file() {
    return file;
  }

  /** The header's {@code __metadata__} (empty when absent). */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** Tensors in header order. */
  @Override
  public Map<String, TensorSource> tensors() {
    return Collections.unmodifiableMap(entries);
  }

  public TensorSource tensor(String name) {
    Entry e = entries.get(name);
    if (e == null) {
      throw new SafetensorsException(file + ": no tensor named " + name);
    }
    return e;
  }

  /**
   * The stored bytes of one tensor as a read-only little-endian view of the mapping (no copy). Limited to
   * tensors under 2 GiB, the most one Java buffer can address.
   */
  public ByteBuffer raw(String name) {
    Entry e = (Entry) tensor(name);
    long n = e.info.end - e.info.begin;
    if (n > Integer.MAX_VALUE) {
      throw new SafetensorsException(file + ": " + name + " has " + n + " bytes, too many for one buffer");
    }
    return map(dataStart + e.info.begin, n).asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
  }

  /** Tensor data bytes copied out of the file so far (headers not counted): what a sharded load really read. */
  public long bytesRead() {
    return bytesRead.get();
  }

  @Override
  public void close() {
    try {
      channel.close();
    } catch (IOException e) {
      throw new SafetensorsException(file + ": close failed: " + e.getMessage(), e);
    }
  }

  // ---------------------------------------------------------------- header

  record Info(String name, Dtype dtype, long[] shape, long begin, long end) {}

  private record Parsed(Map<String, String> metadata, List<Info> infos) {}

  private static Parsed parseHeader(Path file, byte[] bytes, long dataLen) {
    JsonNode root;
    try {
      root = JSON.readTree(new String(bytes, StandardCharsets.UTF_8));
    } catch (JsonProcessingException e) {
      throw new SafetensorsException(file + ": header is not valid JSON: " + e.getOriginalMessage(), e);
    }
    if (root == null || !root.isObject()) {
      throw new SafetensorsException(file + ": header is not a JSON object");
    }
    Map<String, String> metadata = new LinkedHashMap<>();
    List<Info> infos = new ArrayList<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> f = it.next();
      String name = f.getKey();
      JsonNode v = f.getValue();
      if (name.equals("__metadata__")) {
        if (!v.isObject()) {
          throw new SafetensorsException(file + ": __metadata__ is not an object");
        }
        for (Iterator<Map.Entry<String, JsonNode>> m = v.fields(); m.hasNext(); ) {
          Map.Entry<String, JsonNode> kv = m.next();
          if (!kv.getValue().isTextual()) {
            throw new SafetensorsException(file + ": __metadata__." + kv.getKey() + " is not a string");
          }
          metadata.put(kv.getKey(), kv.getValue().asText());
        }
        continue;
      }
      infos.add(parseEntry(file, name, v, dataLen));
    }
    List<Info> byOffset = new ArrayList<>(infos);
    byOffset.sort(Comparator.comparingLong(Info::begin).thenComparingLong(Info::end));
    Info prev = null;
    for (Info i : byOffset) {
      if (prev != null && i.begin < prev.end) {
        throw new SafetensorsException(file + ": tensors " + prev.name + " [" + prev.begin + ", " + prev.end + ") and "
            + i.name + " [" + i.begin + ", " + i.end + ") overlap");
      }
      if (i.end > i.begin) {
        prev = i;
      }
    }
    return new Parsed(Collections.unmodifiableMap(metadata), infos);
  }

  private static Info parseEntry(Path file, String name, JsonNode v, long dataLen) {
    String where = file + ": tensor " + name;
    if (!v.isObject()) {
      throw new SafetensorsException(where + ": entry is not an object");
    }
    JsonNode dt = v.get("dtype");
    Dtype dtype = dt != null && dt.isTextual() ? Dtype.parse(dt.asText()) : null;
    if (dtype == null) {
      throw new SafetensorsException(where + ": unsupported or missing dtype " + dt);
    }
    JsonNode sh = v.get("shape");
    if (sh == null || !sh.isArray()) {
      throw new SafetensorsException(where + ": shape is missing or not a list");
    }
    long[] shape = new long[sh.size()];
    long numel = 1;
    for (int d = 0; d < shape.length; d++) {
      JsonNode n = sh.get(d);
      if (!n.isIntegralNumber() || !n.canConvertToLong() || n.asLong() < 0) {
        throw new SafetensorsException(where + ": shape[" + d + "] = " + n + " is not a non-negative integer");
      }
      shape[d] = n.asLong();
      try {
        numel = Math.multiplyExact(numel, shape[d]);
      } catch (ArithmeticException overflow) {
        throw new SafetensorsException(where + ": shape " + sh + " has more elements than a long can count");
      }
    }
    long nbytes;
    try {
      nbytes = Math.multiplyExact(numel, (long) dtype.size());
    } catch (ArithmeticException overflow) {
      throw new SafetensorsException(where + ": shape " + sh + " is too large");
    }
    JsonNode off = v.get("data_offsets");
    if (off == null || !off.isArray() || off.size() != 2 || !off.get(0).isIntegralNumber()
        || !off.get(1).isIntegralNumber() || !off.get(0).canConvertToLong() || !off.get(1).canConvertToLong()) {
      throw new SafetensorsException(where + ": data_offsets must be two integers, got " + off);
    }
    long begin = off.get(0).asLong();
    long end = off.get(1).asLong();
    if (begin < 0 || end < begin) {
      throw new SafetensorsException(where + ": data_offsets [" + begin + ", " + end + "] are not a range");
    }
    if (end > dataLen) {
      throw new SafetensorsException(where + ": data_offsets end " + end + " lies beyond the data region ("
          + dataLen + " bytes)");
    }
    if (end - begin != nbytes) {
      throw new SafetensorsException(where + ": data_offsets span " + (end - begin) + " bytes but " + dtype
          + " shape " + sh + " needs " + nbytes);
    }
    return new Info(name, dtype, shape, begin, end);
  }

  private static void readFully(FileChannel ch, ByteBuffer dst, long pos) throws IOException {
    while (dst.hasRemaining()) {
      int n = ch.read(dst, pos + dst.position());
      if (n < 0) {
        throw new IOException("unexpected end of file");
      }
    }
  }

  private MappedByteBuffer map(long position, long size) {
    try {
      return channel.map(FileChannel.MapMode.READ_ONLY, position, size);
    } catch (IOException e) {
      throw new SafetensorsException(file + ": cannot map [" + position + ", " + (position + size) + "): "
          + e.getMessage(), e);
    }
  }

  // ---------------------------------------------------------------- data

  private final class Entry implements TensorSource {
    final Info info;

    Entry(Info info) {
      this.info = info;
    }

    @Override
    public String name() {
      return info.name;
    }

    @Override
    public Dtype dtype() {
      return info.dtype;
    }

    @Override
    public long[] shape() {
      return info.shape.clone();
    }

    @Override
    public NDArray load(NDManager manager) {
      long rows = info.shape.length == 0 ? 1 : info.shape[0];
      return copy(0, rows, info.shape.clone(), manager);
    }

    @Override
    public NDArray loadRows(long from, long to, NDManager manager) {
      if (info.shape.length == 0) {
        throw new SafetensorsException(file + ": " + info.name + " is a scalar; it has no rows");
      }
      if (from < 0 || to < from || to > info.shape[0]) {
        throw new SafetensorsException(file + ": rows [" + from + ", " + to + ") out of range for " + info.name
            + " " + Arrays.toString(info.shape));
      }
      long[] shape = info.shape.clone();
      shape[0] = to - from;
      return copy(from, to, shape, manager);
    }

    @Override
    public void copyRowsInto(long from, long to, NDArray destination) {
      long rows = info.shape.length == 0 ? 1 : info.shape[0];
      if (from < 0 || to < from || to > rows) {
        throw new SafetensorsException(file + ": rows [" + from + ", " + to + ") out of range for " + info.name
            + " " + Arrays.toString(info.shape));
      }
      long want = (to - from) * rowElems();
      if (destination.getShape().size() != want) {
        throw new SafetensorsException(file + ": " + info.name + " rows [" + from + ", " + to + ") hold " + want
            + " elements, the destination " + destination.getShape());
      }
      Torch.init();
      try (NoGradGuard g = new NoGradGuard(); Tensor dst = Torch.view(destination).detach()) {
        if (!dst.is_contiguous()) {
          TensorSource.super.copyRowsInto(from, to, destination);
          return;
        }
        try (Tensor flat = dst.view(-1)) {
          fill(flat, from, to);
        }
      }
    }

    @Override
    public void copyElementsInto(long start, long end, NDArray destination) {
      long numel = numel();
      if (start < 0 || end < start || end > numel) {
        throw new SafetensorsException(file + ": elements [" + start + ", " + end + ") out of range for " + info.name
            + " (" + numel + " elements)");
      }
      if (destination.getShape().size() != end - start) {
        throw new SafetensorsException(file + ": " + info.name + " elements [" + start + ", " + end + ") do not fit"
            + " the destination " + destination.getShape());
      }
      Torch.init();
      try (NoGradGuard g = new NoGradGuard(); Tensor dst = Torch.view(destination).detach();
          Tensor flat = dst.reshape(-1)) {
        if (!dst.is_contiguous()) {
          TensorSource.super.copyElementsInto(start, end, destination);
          return;
        }
        fillElements(flat, start, end);
      }
    }

    /** Streams elements [from, to) of the flattened tensor into {@code flat}, mapping only their bytes. */
    private void fillElements(Tensor flat, long from, long to) {
      int size = info.dtype.size();
      long perWindow = Math.max(1, mapWindow / size);
      try (TensorOptions stored = new TensorOptions(info.dtype.scalarType())) {
        for (long e = from; e < to; e += perWindow) {
          long n = Math.min(perWindow, to - e);
          MappedByteBuffer window = map(dataStart + info.begin + e * size, n * size);
          try (Pointer p = new Pointer(window);
              Tensor blob = torch.from_blob(p, new long[] {n}, stored);
              Tensor dst = flat.narrow(0, e - from, n)) {
            dst.copy_(blob);
            bytesRead.addAndGet(n * size);
          } finally {
            Reference.reachabilityFence(window);
            Unmapper.unmap(window);
          }
        }
      }
    }

    private long rowElems() {
      long n = 1;
      for (int i = 1; i < info.shape.length; i++) {
        n *= info.shape[i];
      }
      return n;
    }

    /** Copies rows [from, to) into a new tensor of {@code shape}, converting float types to fp32. */
    private NDArray copy(long from, long to, long[] shape, NDManager manager) {
      Torch.init();
      ScalarType target = info.dtype.floating() ? ScalarType.Float : info.dtype.scalarType();
      Tensor out;
      try (TensorOptions opts = new TensorOptions(target)) {
        out = torch.empty(shape, opts, null);
      }
      try (Tensor flat = out.view(-1)) {
        fill(flat, from, to);
      }
      return Torch.adopt(out, manager);
    }

    /**
     * Streams rows [from, to) from the mapping into {@code flat} (one dimension, (to - from) * row elements,
     * any dtype or device: copy_ converts), one window of at most {@link #mapWindow} bytes at a time.
     */
    private void fill(Tensor flat, long from, long to) {
      long rowElems = rowElems();
      long rowBytes = rowElems * info.dtype.size();
      if (rowBytes == 0 || to == from) {
        return;
      }
      long rowsPerWindow = Math.max(1, mapWindow / rowBytes);
      try (TensorOptions stored = new TensorOptions(info.dtype.scalarType())) {
        for (long r = from; r < to; r += rowsPerWindow) {
          long n = Math.min(rowsPerWindow, to - r);
          MappedByteBuffer window = map(dataStart + info.begin + r * rowBytes, n * rowBytes);
          try (Pointer p = new Pointer(window);
              Tensor blob = torch.from_blob(p, new long[] {n * rowElems}, stored);
              Tensor dst = flat.narrow(0, (r - from) * rowElems, n * rowElems)) {
            dst.copy_(blob); // converts to the destination's type (and device) on the way
            bytesRead.addAndGet(n * rowBytes);
          } finally {
            Reference.reachabilityFence(window); // the mapping must outlive the copy out of it
            Unmapper.unmap(window);
          }
        }
      }
    }
  }
}
