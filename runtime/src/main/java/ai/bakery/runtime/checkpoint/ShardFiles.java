package ai.bakery.runtime.checkpoint;

import ai.bakery.model.io.Dtype;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.CRC32C;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** File names, durable writes and checksums of the sharded checkpoint format. */
final class ShardFiles {
  static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  private static final Pattern RANK_FILE = Pattern.compile("rank-(\\d{5})-of-(\\d{5})\\.(safetensors|json)");

  private ShardFiles() {}

  static String partName(int rank, int world) {
    return String.format("rank-%05d-of-%05d.safetensors", rank, world);
  }

  static String manifestName(int rank, int world) {
    return String.format("rank-%05d-of-%05d.json", rank, world);
  }

  /** The world size in a rank file's name, or -1 when {@code name} is not a rank file. */
  static int worldOf(String name) {
    Matcher m = RANK_FILE.matcher(name);
    return m.matches() ? Integer.parseInt(m.group(2)) : -1;
  }

  /** Writes {@code bytes} to {@code file} via a temporary sibling: fsync, atomic rename, fsync of the folder. */
  static void writeDurably(Path file, byte[] bytes) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING)) {
      ByteBuffer b = ByteBuffer.wrap(bytes);
      while (b.hasRemaining()) {
        out.write(b);
      }
      out.force(true);
    }
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    fsyncDir(file.getParent());
  }

  static void fsyncDir(Path dir) throws IOException {
    try (FileChannel c = FileChannel.open(dir, StandardOpenOption.READ)) {
      c.force(true);
    }
  }

  static String hex(CRC32C crc) {
    return String.format("%08x", crc.getValue());
  }

  static String crc32c(byte[] bytes) {
    CRC32C c = new CRC32C();
    c.update(bytes);
    return hex(c);
  }

  /** CRC32C of a whole file, read in 1 MiB blocks. */
  static String crc32c(Path file) throws IOException {
    CRC32C c = new CRC32C();
    ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
    try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
      while (in.read(buf) >= 0) {
        buf.flip();
        c.update(buf);
        buf.clear();
      }
    }
    return hex(c);
  }

  static Dtype dtypeOf(ScalarType fromNative) {
    ScalarType t = ai.bakery.model.tensor.ScalarTypes.canonical(fromNative);
    for (Dtype d : Dtype.values()) {
      if (scalarType(d) == t) {
        return d;
      }
    }
    throw new CheckpointException("cannot store tensors of type " + t + " in a checkpoint");
  }

  static ScalarType scalarType(Dtype d) {
    switch (d) {
      case F64: return ScalarType.Double;
      case F32: return ScalarType.Float;
      case F16: return ScalarType.Half;
      case BF16: return ScalarType.BFloat16;
      case I64: return ScalarType.Long;
      case I32: return ScalarType.Int;
      case I16: return ScalarType.Short;
      case I8: return ScalarType.Char;
      case U8: return ScalarType.Byte;
      case BOOL: return ScalarType.Bool;
      default: throw new IllegalArgumentException(String.valueOf(d));
    }
  }

  static Dtype dtype(String name, Path where) {
    Dtype d = Dtype.parse(name);
    if (d == null) {
      throw new CheckpointException(where + ": unknown dtype '" + name + "'");
    }
    return d;
  }
}
