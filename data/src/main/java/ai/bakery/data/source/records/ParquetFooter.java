package ai.bakery.data.source.records;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A parquet file's footer, read without Hadoop or decoding any data: the row count of each row group and the
 * byte ranges its column chunks (and their page indexes) occupy. The footer is a Thrift compact-protocol
 * {@code FileMetaData}; only what is needed is parsed, everything else is skipped (or copied) byte for byte.
 *
 * <p>Arrow Java's dataset API can neither list nor select row groups. Sharding needs the list before any
 * data is read, and reading one group must not decode the groups before it; {@link #writeSingleGroupFile}
 * writes a sparse copy holding only that group's bytes, at their original offsets, behind a footer that
 * lists only that group.
 */
public final class ParquetFooter {
  private static final byte[] MAGIC = "PAR1".getBytes(StandardCharsets.US_ASCII);
  private static final int MAX_FOOTER = 256 << 20;

  private final Path file;
  private final byte[] meta;
  private final List<Segment> fields;
  private final List<RowGroup> groups;

  /** A top-level FileMetaData field: its header bytes [start, valueStart) and value bytes [valueStart, end). */
  private record Segment(int id, int start, int valueStart, int end) {}

  /** One row group: rows, its bytes inside the metadata, and the file ranges it needs ({start, end} pairs). */
  private record RowGroup(long rows, int metaStart, int metaEnd, List<long[]> ranges) {}

  private ParquetFooter(Path file, byte[] meta, List<Segment> fields, List<RowGroup> groups) {
    this.file = file;
    this.meta = meta;
    this.fields = fields;
    this.groups = groups;
  }

  /** Row count of each row group, in file order. */
  public static long[] rowGroupRows(Path file) throws IOException {
    return read(file).rowGroupRows();
  }

  public long[] rowGroupRows() {
    return groups.stream().mapToLong(RowGroup::rows).toArray();
  }

  public static ParquetFooter read(Path file) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      if (size < 12) {
        throw new IOException("not a parquet file (only " + size + " bytes): " + file);
      }
      ByteBuffer tail = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      readFully(ch, tail, size - 8, file);
      tail.flip();
      int len = tail.getInt();
      byte[] magic = new byte[4];
      tail.get(magic);
      if (!Arrays.equals(magic, MAGIC)) {
        throw new IOException("not a parquet file (no PAR1 trailer): " + file);
      }
      if (len <= 0 || len > MAX_FOOTER || len > size - 12) {
        throw new IOException("corrupt parquet footer length " + len + ": " + file);
      }
      ByteBuffer buf = ByteBuffer.allocate(len);
      readFully(ch, buf, size - 8 - len, file);
      byte[] meta = buf.array();
      try {
        CompactReader r = new CompactReader(ByteBuffer.wrap(meta));
        r.fileMetaData();
        return new ParquetFooter(file, meta, r.fields, r.groups);
      } catch (RuntimeException e) {
        throw new IOException("corrupt parquet footer in " + file + ": " + e, e);
      }
    }
  }

  /**
   * Writes {@code target}: a parquet file with only row group {@code group} of this file. Its column chunks
   * and page indexes are copied to their original offsets (everything before stays a hole, so the copy costs
   * the group's bytes only) and the new footer is this footer with the other groups left out.
   */
  public void writeSingleGroupFile(int group, Path target) throws IOException {
    RowGroup g = groups.get(group);
    if (g.ranges().isEmpty()) {
      throw new IOException("row group " + group + " of " + file + " has no column chunk offsets");
    }
    byte[] footer = singleGroupMetadata(group);
    try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ);
        FileChannel out = FileChannel.open(target, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.SPARSE)) {
      long size = in.size();
      out.write(ByteBuffer.wrap(MAGIC), 0);
      long end = MAGIC.length;
      for (long[] r : g.ranges()) {
        if (r[0] < MAGIC.length || r[1] > size - 8 || r[0] >= r[1]) {
          throw new IOException("row group " + group + " of " + file + " points outside the file: " + r[0] + ".." + r[1]);
        }
        out.position(r[0]);
        long copied = 0;
        while (copied < r[1] - r[0]) {
          long n = in.transferTo(r[0] + copied, r[1] - r[0] - copied, out);
          if (n <= 0) {
            throw new IOException("short read copying row group " + group + " of " + file);
          }
          copied += n;
        }
        end = Math.max(end, r[1]);
      }
      ByteBuffer tail = ByteBuffer.allocate(footer.length + 8).order(ByteOrder.LITTLE_ENDIAN);
      tail.put(footer).putInt(footer.length).put(MAGIC).flip();
      long pos = end;
      while (tail.hasRemaining()) {
        pos += out.write(tail, pos);
      }
    }
  }

  /** FileMetaData with num_rows set to the group's and row_groups holding only that group. */
  byte[] singleGroupMetadata(int group) {
    RowGroup g = groups.get(group);
    ByteArrayOutputStream out = new ByteArrayOutputStream(meta.length);
    for (Segment f : fields) {
      if (f.id() == 3) {
        out.write(meta, f.start(), f.valueStart() - f.start());
        writeVarint(out, (g.rows() << 1) ^ (g.rows() >> 63));
      } else if (f.id() == 4) {
        out.write(meta, f.start(), f.valueStart() - f.start());
        out.write((1 << 4) | CompactReader.STRUCT);
        out.write(meta, g.metaStart(), g.metaEnd() - g.metaStart());
      } else {
        out.write(meta, f.start(), f.end() - f.start());
      }
    }
    out.write(0); // STOP
    return out.toByteArray();
  }

  private static void writeVarint(ByteArrayOutputStream out, long v) {
    while ((v & ~0x7FL) != 0) {
      out.write((int) ((v & 0x7f) | 0x80));
      v >>>= 7;
    }
    out.write((int) v);
  }

  private static void readFully(FileChannel ch, ByteBuffer buf, long pos, Path file) throws IOException {
    while (buf.hasRemaining()) {
      int n = ch.read(buf, pos + buf.position());
      if (n < 0) {
        throw new IOException("unexpected end of file reading parquet footer: " + file);
      }
    }
  }

  /**
   * Just enough of the Thrift compact protocol to walk FileMetaData: RowGroup (1 columns, 3 num_rows),
   * ColumnChunk (3 meta_data, 4/5 offset index, 6/7 column index), ColumnMetaData (7 total_compressed_size,
   * 9 data_page_offset, 11 dictionary_page_offset, 14/15 bloom filter).
   */
  private static final class CompactReader {
    static final int STOP = 0;
    static final int TRUE = 1;
    static final int FALSE = 2;
    static final int BYTE = 3;
    static final int I16 = 4;
    static final int I32 = 5;
    static final int I64 = 6;
    static final int DOUBLE = 7;
    static final int BINARY = 8;
    static final int LIST = 9;
    static final int SET = 10;
    static final int MAP = 11;
    static final int STRUCT = 12;

    private final ByteBuffer in;
    final List<Segment> fields = new ArrayList<>();
    final List<RowGroup> groups = new ArrayList<>();

    CompactReader(ByteBuffer in) {
      this.in = in;
    }

    /** Handles one field of a struct; returns false to have it skipped. {@code start} is its header's offset. */
    private interface FieldReader {
      boolean read(short id, int type, int start);
    }

    /** Walks a struct's fields up to STOP, giving each to {@code reader} and skipping what it leaves. */
    private void struct(FieldReader reader) {
      short id = 0;
      while (true) {
        int start = in.position();
        int header = in.get() & 0xff;
        int type = header & 0x0f;
        if (type == STOP) {
          return;
        }
        id = nextFieldId(header, id);
        if (!reader.read(id, type, start)) {
          skip(type);
        }
      }
    }

    void fileMetaData() {
      boolean[] saw = new boolean[2]; // num_rows, row_groups
      struct((id, type, start) -> {
        int valueStart = in.position();
        if (id == 4 && type == LIST) {
          int[] list = listHeader();
          if (list[1] != STRUCT) {
            throw new IllegalStateException("row_groups is not a list of structs");
          }
          for (int i = 0; i < list[0]; i++) {
            int rgStart = in.position();
            List<long[]> ranges = new ArrayList<>();
            long rows = rowGroup(ranges);
            groups.add(new RowGroup(rows, rgStart, in.position(), ranges));
          }
          saw[1] = true;
        } else {
          saw[0] |= id == 3 && type == I64;
          skip(type);
        }
        fields.add(new Segment(id, start, valueStart, in.position()));
        return true;
      });
      if (!saw[0] || !saw[1]) {
        throw new IllegalStateException("FileMetaData without num_rows or row_groups");
      }
    }

    private long rowGroup(List<long[]> ranges) {
      long[] numRows = {-1};
      struct((id, type, start) -> {
        if (id == 1 && type == LIST) {
          int[] list = listHeader();
          for (int i = 0; i < list[0]; i++) {
            columnChunk(ranges);
          }
          return true;
        }
        if (id == 3 && type == I64) {
          numRows[0] = zigzag(varint());
          return true;
        }
        return false;
      });
      if (numRows[0] < 0) {
        throw new IllegalStateException("row group without num_rows");
      }
      return numRows[0];
    }

    private void columnChunk(List<long[]> ranges) {
      long[] v = {-1, -1, -1, -1}; // fields 4..7: offset index offset/length, column index offset/length
      struct((id, type, start) -> {
        if (id == 3 && type == STRUCT) {
          columnMetaData(ranges);
          return true;
        }
        if (id >= 4 && id <= 7 && (type == I64 || type == I32)) {
          v[id - 4] = zigzag(varint());
          return true;
        }
        return false;
      });
      addRange(ranges, v[0], v[1]);
      addRange(ranges, v[2], v[3]);
    }

    private void columnMetaData(List<long[]> ranges) {
      long[] v = {-1, -1, -1, -1, -1}; // compressed size, data page, dictionary page, bloom offset, bloom length
      struct((id, type, start) -> {
        int slot = switch (id) {
          case 7 -> type == I64 ? 0 : -1;
          case 9 -> type == I64 ? 1 : -1;
          case 11 -> type == I64 ? 2 : -1;
          case 14 -> type == I64 ? 3 : -1;
          case 15 -> type == I32 ? 4 : -1;
          default -> -1;
        };
        if (slot < 0) {
          return false;
        }
        v[slot] = zigzag(varint());
        return true;
      });
      long compressed = v[0];
      long dataPage = v[1];
      if (compressed < 0 || dataPage < 0) {
        throw new IllegalStateException("column chunk without data_page_offset or total_compressed_size");
      }
      long first = v[2] > 0 ? Math.min(v[2], dataPage) : dataPage;
      ranges.add(new long[] {first, first + compressed});
      addRange(ranges, v[3], v[4]);
    }

    private static void addRange(List<long[]> ranges, long offset, long length) {
      if (offset > 0 && length > 0) {
        ranges.add(new long[] {offset, offset + length});
      }
    }

    private short nextFieldId(int header, short previous) {
      int delta = header >>> 4;
      return delta == 0 ? (short) zigzag(varint()) : (short) (previous + delta);
    }

    /** Returns {size, elementType}. */
    private int[] listHeader() {
      int b = in.get() & 0xff;
      int size = b >>> 4;
      if (size == 15) {
        size = (int) varint();
      }
      return new int[] {size, b & 0x0f};
    }

    private void skip(int type) {
      switch (type) {
        case TRUE, FALSE -> { }
        case BYTE -> in.get();
        case I16, I32, I64 -> varint();
        case DOUBLE -> in.position(in.position() + 8);
        case BINARY -> {
          int len = (int) varint();
          in.position(in.position() + len);
        }
        case LIST, SET -> {
          int[] h = listHeader();
          for (int i = 0; i < h[0]; i++) {
            skipElement(h[1]);
          }
        }
        case MAP -> {
          int size = (int) varint();
          if (size > 0) {
            int kv = in.get() & 0xff;
            for (int i = 0; i < size; i++) {
              skipElement(kv >>> 4);
              skipElement(kv & 0x0f);
            }
          }
        }
        case STRUCT -> struct((id, t, start) -> false);
        default -> throw new IllegalStateException("unknown thrift compact type " + type);
      }
    }

    /** In collections, booleans take a whole byte. */
    private void skipElement(int type) {
      if (type == TRUE || type == FALSE) {
        in.get();
      } else {
        skip(type);
      }
    }

    private long varint() {
      long result = 0;
      int shift = 0;
      while (true) {
        int b = in.get() & 0xff;
        result |= (long) (b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
          return result;
        }
        shift += 7;
        if (shift > 63) {
          throw new IllegalStateException("varint too long");
        }
      }
    }

    private static long zigzag(long n) {
      return (n >>> 1) ^ -(n & 1);
    }
  }
}
