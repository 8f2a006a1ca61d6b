package ai.bakery.model.io;

import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Collects named tensors and writes them as one safetensors file or as shards with a
 * {@code <base>.safetensors.index.json}. Output is deterministic: tensors in name order, metadata keys
 * sorted, header padded with spaces to 8 bytes, so the same tensors always give the same bytes.
 *
 * <p>Arrays are read at {@link #write} time, so they must stay open until then; nothing is copied on the
 * Java heap beyond one conversion window. BF16 is produced here by round-to-nearest-even of the fp32 bits.
 */
public final class SafetensorsWriter {
  /** Largest window of tensor bytes converted or written at once. */
  private static final int WINDOW = 1 << 24;

  private static final ObjectMapper JSON = new ObjectMapper().configure(SerializationFeature.INDENT_OUTPUT, false);

  private final Map<String, String> metadata = new TreeMap<>();
  private final TreeMap<String, Item> items = new TreeMap<>();

  private interface Item {
    Dtype dtype();

    long[] shape();

    default long nbytes() {
      long n = dtype().size();
      for (long d : shape()) {
        n *= d;
      }
      return n;
    }

    void writeTo(FileChannel out) throws IOException;
  }

  public SafetensorsWriter metadata(String key, String value) {
    metadata.put(key, value);
    return this;
  }

  /**
   * Adds {@code value} to be stored as {@code dtype}: a float type (F32, BF16, F16, F64) for float arrays, the
   * same integer type for integer arrays.
   */
  public SafetensorsWriter add(String name, NDArray value, Dtype dtype) {
    checkName(name);
    long[] shape = value.getShape().getShape();
    boolean floatSource = value.getDataType().isFloating();
    if (floatSource != dtype.floating()) {
      throw new IllegalArgumentException(name + ": cannot store " + value.getDataType() + " data as " + dtype);
    }
    items.put(name, new ArrayItem(value, dtype, shape));
    return this;
  }

  /** Adds every parameter of {@code store} (a model.safetensors / ema.safetensors state dict). */
  public SafetensorsWriter addAll(ParameterStore store, Dtype dtype) {
    for (Parameter p : store.all().values()) {
      add(p.name(), p.value(), dtype);
    }
    return this;
  }

  /** Adds bytes already in the stored layout (little-endian, row-major). */
  public SafetensorsWriter addRaw(String name, Dtype dtype, long[] shape, ByteBuffer bytes) {
    checkName(name);
    RawItem item = new RawItem(bytes.duplicate(), dtype, shape.clone());
    if (item.bytes.remaining() != item.nbytes()) {
      throw new IllegalArgumentException(name + ": " + item.bytes.remaining() + " bytes given, " + dtype + " shape "
          + java.util.Arrays.toString(shape) + " needs " + item.nbytes());
    }
    items.put(name, item);
    return this;
  }

  public int size() {
    return items.size();
  }

  /** Writes one file (via a temporary sibling, then an atomic rename). */
  public void write(Path file) {
    writeFile(file, new ArrayList<>(items.keySet()), metadata);
  }

  /**
   * Writes shards of at most {@code maxShardBytes} data bytes each (a larger single tensor gets a shard of its
   * own), named {@code <base>-00001-of-0000N.safetensors}, plus {@code <base>.safetensors.index.json}; a single
   * shard is written as plain {@code <base>.safetensors} without an index, as HF does. Returns the files written.
   */
  public List<Path> writeSharded(Path dir, String base, long maxShardBytes) {
    if (maxShardBytes <= 0) {
      throw new IllegalArgumentException("maxShardBytes must be > 0, got " + maxShardBytes);
    }
    List<List<String>> shards = new ArrayList<>();
    List<String> current = new ArrayList<>();
    long currentBytes = 0;
    long total = 0;
    for (Map.Entry<String, Item> e : items.entrySet()) {
      long n = e.getValue().nbytes();
      total += n;
      if (!current.isEmpty() && currentBytes + n > maxShardBytes) {
        shards.add(current);
        current = new ArrayList<>();
        currentBytes = 0;
      }
      current.add(e.getKey());
      currentBytes += n;
    }
    shards.add(current);
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new SafetensorsException(dir + ": cannot create: " + e.getMessage(), e);
    }
    List<Path> written = new ArrayList<>();
    if (shards.size() == 1) {
      Path f = dir.resolve(base + ".safetensors");
      writeFile(f, shards.get(0), metadata);
      written.add(f);
      return written;
    }
    Map<String, String> weightMap = new TreeMap<>();
    for (int i = 0; i < shards.size(); i++) {
      String fileName = String.format("%s-%05d-of-%05d.safetensors", base, i + 1, shards.size());
      Path f = dir.resolve(fileName);
      writeFile(f, shards.get(i), metadata);
      written.add(f);
      for (String name : shards.get(i)) {
        weightMap.put(name, fileName);
      }
    }
    Map<String, Object> index = new LinkedHashMap<>();
    Map<String, Object> meta = new TreeMap<>(metadata);
    meta.put("total_size", total);
    index.put("metadata", meta);
    index.put("weight_map", weightMap);
    Path indexFile = dir.resolve(base + ".safetensors.index.json");
    try {
      byte[] json = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(index);
      atomicWrite(indexFile, json);
    } catch (IOException e) {
      throw new SafetensorsException(indexFile + ": cannot write: " + e.getMessage(), e);
    }
    written.add(indexFile);
    return written;
  }

  private void writeFile(Path file, List<String> names, Map<String, String> meta) {
    Map<String, Object> header = new LinkedHashMap<>();
    if (!meta.isEmpty()) {
      header.put("__metadata__", new TreeMap<>(meta));
    }
    long offset = 0;
    for (String name : names) {
      Item item = items.get(name);
      Map<String, Object> entry = new LinkedHashMap<>();
      entry.put("dtype", item.dtype().name());
      entry.put("shape", item.shape());
      entry.put("data_offsets", new long[] {offset, offset + item.nbytes()});
      header.put(name, entry);
      offset += item.nbytes();
    }
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    try {
      byte[] json = JSON.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
      int padded = (json.length + 7) / 8 * 8;
      ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
      head.putLong(padded).put(json);
      while (head.hasRemaining()) {
        head.put((byte) ' ');
      }
      head.flip();
      try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
          StandardOpenOption.TRUNCATE_EXISTING)) {
        writeAll(out, head);
        for (String name : names) {
          items.get(name).writeTo(out);
        }
        out.force(true);
      }
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      try {
        Files.deleteIfExists(tmp);
      } catch (IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw new SafetensorsException(file + ": cannot write: " + e.getMessage(), e);
    }
  }

  private static void atomicWrite(Path file, byte[] bytes) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.write(tmp, bytes);
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  private static void writeAll(FileChannel out, ByteBuffer buf) throws IOException {
    while (buf.hasRemaining()) {
      out.write(buf);
    }
  }

  private void checkName(String name) {
    if (name == null || name.isEmpty() || name.equals("__metadata__")) {
      throw new IllegalArgumentException("invalid tensor name '" + name + "'");
    }
    if (items.containsKey(name)) {
      throw new IllegalArgumentException("tensor added twice: " + name);
    }
  }

  /** fp32 -> bf16 by round-to-nearest-even on the bit pattern; NaN stays a (quiet) NaN of the same sign. */
  public static short toBf16(float f) {
    int bits = Float.floatToRawIntBits(f);
    if ((bits & 0x7fffffff) > 0x7f800000) {
      return (short) ((bits >>> 16) | 0x0040);
    }
    int roundingBias = 0x7fff + ((bits >>> 16) & 1);
    return (short) ((bits + roundingBias) >>> 16);
  }

  public static float fromBf16(short b) {
    return Float.intBitsToFloat((b & 0xffff) << 16);
  }

  private record RawItem(ByteBuffer bytes, Dtype dtype, long[] shape) implements Item {
    @Override
    public void writeTo(FileChannel out) throws IOException {
      writeAll(out, bytes.duplicate());
    }
  }

  private record ArrayItem(NDArray value, Dtype dtype, long[] shape) implements Item {
    @Override
    public void writeTo(FileChannel out) throws IOException {
      Torch.init();
      long nbytes = nbytes();
      if (nbytes == 0) {
        return;
      }
      // Stored type straight from libtorch, except bf16 which we round ourselves from fp32.
      ScalarType via = dtype == Dtype.BF16 ? ScalarType.Float : dtype.scalarType();
      try (Tensor cpu = Torch.view(value).cpu();
          Tensor typed = cpu.to(via);
          Tensor data = typed.contiguous()) {
        BytePointer base = new BytePointer(data.data_ptr());
        long srcBytes = data.nbytes();
        if (dtype != Dtype.BF16) {
          for (long off = 0; off < srcBytes; off += WINDOW) {
            int len = (int) Math.min(WINDOW, srcBytes - off);
            writeAll(out, window(base, off, len));
          }
        } else {
          ByteBuffer bf = ByteBuffer.allocate(WINDOW / 2).order(ByteOrder.LITTLE_ENDIAN);
          for (long off = 0; off < srcBytes; off += WINDOW) {
            int len = (int) Math.min(WINDOW, srcBytes - off);
            FloatBuffer floats = window(base, off, len).asFloatBuffer();
            bf.clear();
            while (floats.hasRemaining()) {
              bf.putShort(toBf16(floats.get()));
            }
            bf.flip();
            writeAll(out, bf);
          }
        }
      }
    }

    private static ByteBuffer window(BytePointer base, long off, int len) {
      BytePointer p = new BytePointer(base);
      p.position(off).limit(off + len);
      return p.asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }
  }
}
